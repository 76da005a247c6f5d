"""The only place that speaks HTTP: app factory, routes, views, middlewares, templates."""
