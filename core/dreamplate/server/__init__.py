"""The local job server (`dreamplate serve`): FastAPI routes, token and path checks; needs the `server` extra."""
