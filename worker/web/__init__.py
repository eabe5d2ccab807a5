"""The staff web app: review, correct and move on the worker's tickets (Starlette + Jinja2)."""
