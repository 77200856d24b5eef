"""The `labconsole` command line: console, headless runs, listing, comparison, control, data."""
