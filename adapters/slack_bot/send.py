"""Sending to Slack: the Web API and ``response_url`` posts, with retries, never raising.

429s are retried after ``Retry-After`` (slack_sdk's rate-limit handler, capped so a reply is not held
for minutes) and dropped connections with exponential backoff; a post that still fails is logged with
Slack's error code (never a token) and reported as False so the caller can fall back.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack_bot.render import Message
from bot import metrics

log = logging.getLogger("careerbot.slack")

#: A Retry-After longer than this is not waited for (the response_url would be stale by then).
RETRY_AFTER_MAX = 30
EPHEMERAL = {"response_type": "ephemeral", "replace_original": False}


class CappedRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (sleeps for ``Retry-After``), but gives up on waits over a cap."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not await super()._can_retry_async(state=state, request=request, response=response, error=error):
            return False
        assert response is not None
        wait = next((v[0] for k, v in response.headers.items() if k.lower() == "retry-after"), "1")
        if not (wait.isdigit() and int(wait) <= RETRY_AFTER_MAX):
            return False
        metrics.rate_limited("slack", float(wait))
        return True


def retry_handlers() -> list[AsyncRetryHandler]:
    return [
        AsyncConnectionErrorRetryHandler(
            max_retry_count=3, interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=0.5)
        ),
        CappedRateLimitRetryHandler(max_retry_count=3),
    ]


class Sender:
    """Posts to Slack. Never raises: a failure is logged with Slack's error code and reported as False."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self.retry_handlers = retry_handlers()
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            self.client.session = self.session

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def respond(self, response_url: str | None, message: Message, **extra: Any) -> bool:
        """Post to a payload's ``response_url`` (ephemeral unless ``extra`` says otherwise)."""
        return await self._post_hook(response_url, message.payload(**{**EPHEMERAL, **extra}))

    async def _post_hook(self, response_url: str | None, body: dict[str, Any]) -> bool:
        if not response_url:
            return False
        await self.open()
        hook = AsyncWebhookClient(response_url, session=self.session, retry_handlers=self.retry_handlers)
        try:
            resp = await hook.send_dict(body)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            metrics.api_error("slack", "unavailable")
            log.warning("response_url post failed: %s", type(exc).__name__)
            return False
        if resp.status_code != 200:
            log.warning("response_url post failed: %s (HTTP %s)", (resp.body or "")[:100], resp.status_code)
            return False
        return True

    async def delete_original(self, response_url: str | None) -> bool:
        """Remove the (ephemeral) message a button was pressed on."""
        return await self._post_hook(response_url, {"delete_original": True})

    async def call(self, method: str, **kwargs: Any) -> bool:
        """A Web API call such as ``chat.postMessage``."""
        return await self._api(method, json={k: v for k, v in kwargs.items() if v is not None}) is not None

    async def read(self, method: str, **params: str) -> dict[str, Any] | None:
        """A read method such as ``users.info`` (a GET, as slack_sdk sends them): its response, or
        None when it failed (logged with Slack's error code)."""
        return await self._api(method, http_verb="GET", params=params)

    async def _api(self, method: str, **request: Any) -> dict[str, Any] | None:
        await self.open()
        try:
            response = await self.client.api_call(method, **request)
        except SlackApiError as exc:
            metrics.api_error("slack", "refused")
            log.warning("%s failed: %s", method, exc.response.get("error", exc.response.status_code))
            return None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            metrics.api_error("slack", "unavailable")
            log.warning("%s failed: %s", method, type(exc).__name__)
            return None
        return dict(response.data) if isinstance(response.data, dict) else {}
