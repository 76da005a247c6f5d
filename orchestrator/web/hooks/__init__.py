"""What other systems call: provider call-backs and inbound mail."""
