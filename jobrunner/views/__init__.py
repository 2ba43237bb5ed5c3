"""The read side: what the status commands show, and what a web page or a metrics
endpoint shows later, from the same functions.

- `queries`: the store (and the job files) -> what a reader asks for;
- `shapes`: the public JSON shapes (an API: fields are added, never renamed);
- `times`: how a time is shown (in the configured zone, or as time left or passed);
- `text`: aligned tables and the text the status commands print.

Nothing here imports the command line or the runner, or writes.
"""
