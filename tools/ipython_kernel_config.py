# Installed by `make install` into .venv/etc/ipython/: the course's kernels explain a cell
# run out of order (a NameError) in plain language. See initcourse/notebook_help.py.
c = get_config()  # noqa: F821
c.InteractiveShellApp.extensions = ["initcourse.notebook_help"]
