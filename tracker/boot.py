# PyScript entry point: <script type="py" src="/static/tracker/boot.py" config="/static/tracker/pyscript.json">
from tracker.browser import start

tracker = start()
