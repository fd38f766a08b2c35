"""The HTTP layer: the app factory, JSON API routers, HTML pages. Only this package knows HTTP."""
