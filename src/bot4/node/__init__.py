"""The trading node: one config, the whole pipeline, paper and live modes (see ``docs/configuration.md``)."""
