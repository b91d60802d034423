"""The web app's pages, one module per page (views.auth: sign-in, sign-up, password reset)."""
