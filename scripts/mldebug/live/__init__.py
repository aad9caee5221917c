"""The live checks of `ml-debug trace`: one module per check id, each registering itself with
`@live_check(id, title, order)`. A live check is `fn(tracer) -> Result` (it may raise `Skip`):
it reads what the recorder (recorder.py) saw while the user's script ran. A new live check is
one new file here.
"""
