"""The ground every capability stands on: settings, database, errors, events, records, metrics."""
