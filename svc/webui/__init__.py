"""Local web app: convert a song and fix its pitch in the browser (svc_webui.py serves it)."""
