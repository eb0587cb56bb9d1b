"""Resolves what a user typed (ids or names, shortcuts) into Baseten objects; explains failures.

A failure is a sentence, escaped whole where it is shown (bot.render.cards.error) and printed as is
in a terminal: a Baseten name in it is cleaned by bot.render.text.inline.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.baseten.client import BasetenClient
from bot.baseten.errors import AuthError, BadResponse, BasetenError, NotFound, RateLimited, Unavailable
from bot.baseten.models import Deployment, Environment, Model, Skipped
from bot.commands.typed import ENV, WHOLE_MODEL, TargetWord
from bot.domain.ids import is_plain_id
from bot.domain.subjects import Kind, key_of, kind_of, split_typed
from bot.render.text import inline


class LookupFailed(Exception):
    """The lookup cannot be answered; `str()` is a short, specific sentence for the user."""


@dataclass(frozen=True)
class DeploymentView:
    model: Model
    deployment: Deployment


@dataclass(frozen=True)
class ModelView:
    model: Model
    deployments: list[Deployment]
    skipped: tuple[Skipped, ...] = ()  # listed, but not usable: the overview names them


@dataclass(frozen=True)
class EnvironmentView:
    model: Model
    environment: Environment


View = DeploymentView | ModelView | EnvironmentView


def check_plain_id(kind: str, name: str, id_: str, consequence: str) -> None:
    """Refuses, in a sentence, an id from Baseten that the client would refuse to put in a request path."""
    if is_plain_id(id_):
        return
    # each character the id may not hold is shown as `?`, to point at it rather than hide it
    shown = "".join(ch if ch.isprintable() and ch != "`" else "?" for ch in id_)
    raise LookupFailed(
        f"Baseten gave {kind} `{inline(name)}` the id `{inline(shown, 40)}`, which the bot can't put in a request "
        f"(only letters, digits, `-` and `_` are safe), so {consequence}"
    )


async def resolve_model(client: BasetenClient, token: str, *, interactive: bool = True) -> Model:
    """A model by id, else by exact name, with an id the bot can use; several models with that name is an error.
    `chain:CHAIN` and `training:PROJECT` are found the same way and stand as a model keyed `chain:ID` or
    `training:ID` (bot.domain.subjects), so everything after the lookup treats them alike."""
    kind, own = split_typed(token)
    if kind is not Kind.MODEL:
        return await _resolve_subject(client, kind, own, interactive=interactive)
    model = await _find_model(client, token, interactive=interactive)
    check_plain_id("model", model.display_name, model.id, "it can't look it up or watch it.")
    return model


async def _resolve_subject(client: BasetenClient, kind: Kind, token: str, *, interactive: bool) -> Model:
    """A chain or a training project by id, else by exact name, as a Model with its key."""
    get, find = (
        (client.get_chain, client.find_chains)
        if kind is Kind.CHAIN
        else (client.get_training_project, client.find_training_projects)
    )
    try:
        try:
            found = [await get(token, interactive=interactive)]
        except NotFound:
            found = [s for s in await find(token, interactive=interactive) if s.name == token]
    except BasetenError as exc:
        raise LookupFailed(explain(exc)) from None
    if not found:
        raise LookupFailed(f"I can't find a {kind.noun} `{token}` on Baseten (by id or by name).")
    if len(found) > 1:
        ids = ", ".join(f"`{s.id}`" for s in found[:10])
        raise LookupFailed(f"Several {kind.noun}s are named `{token}`; use an id instead: {ids}.")
    subject = found[0]
    check_plain_id(kind.noun, subject.display_name, subject.id, "it can't look it up or watch it.")
    if len(subject.id) > kind.max_id:
        raise LookupFailed(
            f"Baseten gave {kind.noun} `{inline(subject.display_name)}` an id longer than {kind.max_id} characters, "
            "which the bot can't store, so it can't watch it."
        )
    return Model(id=key_of(kind, subject.id), name=subject.name)


async def _find_model(client: BasetenClient, token: str, *, interactive: bool) -> Model:
    try:
        return await client.get_model(token, interactive=interactive)
    except NotFound:
        pass
    except BasetenError as exc:
        raise LookupFailed(explain(exc)) from None
    try:
        answered = await client.find_models(token, interactive=interactive)
    except BasetenError as exc:
        raise LookupFailed(explain(exc)) from None
    # Only exact names count: a proxy or an API that ignores `?name=` must not turn one name into every model.
    found = [m for m in answered if m.name == token]
    if not found:
        raise LookupFailed(f"I can't find a model `{token}` on Baseten (by id or by name).")
    if len(found) > 1:
        ids = ", ".join(f"`{m.id}`" for m in found[:10])
        raise LookupFailed(f"Several models are named `{token}`; use an id instead: {ids}.")
    return found[0]


async def resolve_deployment(
    client: BasetenClient, model: Model, target: TargetWord, *, interactive: bool = True
) -> Deployment:
    """One deployment: `production`, `development`, an id, or an exact name."""
    label = inline(model.display_name)
    kind = kind_of(model.id)
    try:
        if target == "production":
            return await client.get_production_deployment(model.id, interactive=interactive)
        if target == "development":
            return await client.get_development_deployment(model.id, interactive=interactive)
        try:
            return await client.get_deployment(model.id, target, interactive=interactive)
        except NotFound:
            named = await client.list_deployments(model.id, name=target, interactive=interactive)
    except NotFound:
        raise LookupFailed(f"{kind.noun.capitalize()} `{label}` has no {target} {kind.part}.") from None
    except BasetenError as exc:
        raise LookupFailed(explain(exc)) from None
    matches = [d for d in named if d.name == target or d.id == target]
    if not matches:
        raise LookupFailed(f"{kind.noun.capitalize()} `{label}` has no {kind.part} `{target}` (by id or by name).")
    return matches[0]


async def resolve_environment(
    client: BasetenClient, model: Model, name: str, *, interactive: bool = True
) -> Environment:
    """One environment by name (an exact one first, else one differing only in case); an unknown name
    is answered with the model's environments."""
    label = inline(model.display_name)
    noun = kind_of(model.id).noun
    try:
        return await client.get_environment(model.id, name, interactive=interactive)
    except NotFound:
        pass
    except BasetenError as exc:
        raise LookupFailed(explain(exc)) from None
    try:
        envs = await client.list_environments(model.id, interactive=interactive)
    except NotFound:
        raise LookupFailed(f"I can't find {noun} `{label}` on Baseten any more.") from None
    except BasetenError as exc:
        raise LookupFailed(explain(exc)) from None
    found = next((e for e in envs if e.name.lower() == name.lower()), None)
    if found is not None:
        return found
    names = ", ".join(f"`{inline(e.name, 60)}`" for e in envs[:20]) or "none"
    raise LookupFailed(f"{noun.capitalize()} `{label}` has no environment `{name}`. Its environments: {names}.")


async def look_up(client: BasetenClient, model_token: str, target: TargetWord, *, interactive: bool = True) -> View:
    model = await resolve_model(client, model_token, interactive=interactive)
    if target.startswith(ENV):
        env = await resolve_environment(client, model, target[len(ENV) :], interactive=interactive)
        return EnvironmentView(model, env)
    if target == WHOLE_MODEL:
        try:
            deployments = await client.list_deployments(model.id, interactive=interactive)
        except BasetenError as exc:
            raise LookupFailed(explain(exc)) from None
        return ModelView(model, deployments, deployments.skipped)
    deployment = await resolve_deployment(client, model, target, interactive=interactive)
    return DeploymentView(model, deployment)


def explain(exc: BasetenError) -> str:
    """A user-facing sentence for a client error; never a stack trace or a secret."""
    if isinstance(exc, NotFound):
        return "Baseten has no such model or deployment."
    if isinstance(exc, AuthError):
        if exc.status_code == 401:
            return "Baseten rejected the bot's API key (401). Ask whoever runs the bot to check BASETEN_API_KEY."
        return "The bot's Baseten API key may not read this (403): it needs a key with management access to this model."
    if isinstance(exc, RateLimited):
        return f"Baseten is rate limiting the bot right now; try again in {exc.retry_after:g}s."
    if isinstance(exc, Unavailable):
        return f"Baseten is not answering right now ({exc}). Try again in a minute."
    if isinstance(exc, BadResponse):
        return "Baseten sent an answer the bot could not read. Try again in a minute."
    return "Baseten could not answer that."
