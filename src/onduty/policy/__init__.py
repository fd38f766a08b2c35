"""Policy as code: the version 1 file's schema, its loader and lint, apply and export."""

from onduty.policy.apply import apply_policy
from onduty.policy.export import export_policy, export_yaml, to_yaml
from onduty.policy.lint import lint
from onduty.policy.loader import Lines, PolicyError, Problem, load_file, parse_text
from onduty.policy.schema import PolicyFile

__all__ = [
    "Lines",
    "PolicyError",
    "PolicyFile",
    "Problem",
    "apply_policy",
    "export_policy",
    "export_yaml",
    "lint",
    "load_file",
    "parse_text",
    "to_yaml",
]
