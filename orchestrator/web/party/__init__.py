"""What a party opens from their email: the join page, the poll, the replies, preparation."""
