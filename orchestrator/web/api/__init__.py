"""The JSON API under ``/api/v1``: the declarative route table and one module per resource."""
