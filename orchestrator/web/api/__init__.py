"""The JSON API under ``/api/v1``: the declared route table (``routes``), serving it
(``views``, ``parsing``), and one module per resource."""
