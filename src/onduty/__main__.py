"""`python -m onduty` runs the command line."""

from onduty.cli import main

main()
