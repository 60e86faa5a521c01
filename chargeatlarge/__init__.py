"""The `chargeatlarge` command line, the one-command demo and the data the demo generates.

Not part of the library the deployable parts share (`shared/`): the Function App package and the
container images hold only what they run.
"""
