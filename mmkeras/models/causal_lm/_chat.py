"""Chat templates: Hugging Face's Jinja format, rendered in a sandbox."""

import functools

import jinja2
from jinja2 import sandbox

_ROLES = ("system", "user", "assistant")


@functools.lru_cache(maxsize=8)
def compile_template(source):
    """The compiled template; a syntax error names the line."""
    if not isinstance(source, str):
        raise TypeError(
            "chat_template must be a string (a Jinja template). Received: "
            f"a {type(source).__name__}"
        )
    # A sandbox: templates come with checkpoints, from anyone.
    environment = sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True
    )
    try:
        return environment.from_string(source)
    except jinja2.TemplateSyntaxError as error:
        raise ValueError(
            f"chat_template is not a valid Jinja template: {error.message} "
            f"(line {error.lineno})"
        ) from None


def messages_of(messages):
    """A list of `{"role", "content"}` dicts from a string (one user
    message) or such a list, checked."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError(
            "messages must be a string or a non-empty list of "
            '{"role": ..., "content": ...} dicts. Received: '
            f"{messages!r}"
        )
    checked = []
    for i, message in enumerate(messages):
        if (
            not isinstance(message, dict)
            or set(message) != {"role", "content"}
            or message["role"] not in _ROLES
            or not isinstance(message["content"], str)
        ):
            raise ValueError(
                f"messages[{i}] must be a dict with a role in {_ROLES} and "
                f"a string content. Received: {message!r}"
            )
        checked.append(dict(message))
    return checked


def render(source, messages, add_generation_prompt=True):
    template = compile_template(source)
    return template.render(
        messages=messages_of(messages),
        add_generation_prompt=add_generation_prompt,
    )
