"""Run folders: what a run writes, the rules that keep it, and loading it.

- `run_folder`: the folder's layout, settings (`run.json`), atomic writes
  and where an unfinished run resumes.
- `loader`: `load_run(run_dir)`, a finished run of any task as a `Run`.

Every command reads runs through these two modules; training writes them.
`run_folder` imports nothing heavy: the command line checks a run folder
before TensorFlow loads. `tfzoo.load_run` is `loader.load_run`.
"""
