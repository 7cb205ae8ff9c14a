"""Loads a CloudFormation YAML template with its short-form tags (!Ref, !GetAtt, !Sub,
!If, ...) turned into the long JSON form ({"Ref": ...}, {"Fn::GetAtt": [...]}), so tests
can walk the template as CloudFormation itself sees it. PyYAML only (Debian's 6.0 and the
image's 6.0.x both have it); no network, no AWS account."""

import re

import yaml

# Short tag -> long form key, as listed in the CloudFormation intrinsic function reference.
_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "FindInMap": "Fn::FindInMap",
    "GetAZs": "Fn::GetAZs",
    "Base64": "Fn::Base64",
    "Cidr": "Fn::Cidr",
    "ImportValue": "Fn::ImportValue",
    "Transform": "Fn::Transform",
    "ToJsonString": "Fn::ToJsonString",
    "Length": "Fn::Length",
}

PSEUDO_PARAMETERS = {
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
}


class UnknownTagError(yaml.YAMLError):
    pass


class CfnLoader(yaml.SafeLoader):
    """SafeLoader plus the CloudFormation tags; anything else tagged is an error."""


def _construct(loader, tag_suffix, node):
    if tag_suffix not in _TAGS:
        raise UnknownTagError(f"unknown CloudFormation tag !{tag_suffix} at {node.start_mark}")
    key = _TAGS[tag_suffix]
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        # !GetAtt Resource.Attribute is the short form of ["Resource", "Attribute"].
        if key == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


CfnLoader.add_multi_constructor("!", _construct)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


def walk(node, path=()):
    """Yields (path, node) for every dict and list inside node, node first."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))


_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def sub_variables(sub_value):
    """The ${Name} / ${Resource.Attr} variables of an Fn::Sub (string or [string, map])."""
    if isinstance(sub_value, list):
        text, local = sub_value[0], set(sub_value[1].keys()) if len(sub_value) > 1 else set()
    else:
        text, local = sub_value, set()
    return [v for v in _SUB_VAR.findall(text) if v not in local]


def references(node):
    """Names node refers to: Ref targets, GetAtt resources, Fn::Sub variables (the part
    before a dot). Pseudo parameters included; the caller filters."""
    names = []
    for _, n in walk(node):
        if not isinstance(n, dict) or len(n) != 1:
            continue
        (key, value), = n.items()
        if key == "Ref" and isinstance(value, str):
            names.append(value)
        elif key == "Fn::GetAtt" and isinstance(value, list) and value:
            names.append(value[0])
        elif key == "Fn::Sub":
            names.extend(v.split(".", 1)[0] if not v.startswith("AWS::") else v
                         for v in sub_variables(value))
    return names


def is_ref(node, name):
    return node == {"Ref": name}


def is_getatt(node, resource, attribute):
    return node == {"Fn::GetAtt": [resource, attribute]}
