"""``veil eval vlm``: send the probe suite to a model, with and without Veil in front.

Through Veil, the probes go to the gateway (``veil.server``) with one ``X-Veil-Session``
per conversation, under a role that restores nothing: what is measured is the model's
own answer, the pseudonyms it saw included. Restoring would put the user's own values
back into the answer, which is the gateway's job and no disclosure by the model.
"""

from __future__ import annotations

import base64
import json
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from veil.eval import metrics
from veil.eval.metrics import Answered, Hit
from veil.eval.probes import Part, Probe
from veil.eval.serving import gateway, serve
from veil.policy import Policy

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Variant:
    """One strength of Veil for the privacy-utility sweep (``protect`` None: no Veil)."""

    name: str
    protect: tuple[str, ...] | None
    policy: dict[str, Any] = field(default_factory=dict)


SWEEP = (
    Variant("no Veil", None),
    Variant("faces only, fill", ("face",)),
    Variant("faces only, synthesize", ("face",), {"kinds": {"face": {"operator": "synthesize"}}}),
    Variant("text only, fill", ("text",)),
    Variant("all kinds, pixelate", ("*",), {"operator": "pixelate"}),
    Variant("all kinds, blur", ("*",), {"operator": "blur"}),
    Variant("all kinds, replace", ("*",), {"operator": "replace"}),
    Variant("all kinds, fill (default)", ("*",)),
)


@dataclass
class RunResult:
    """Everything measured in one run; values never leave it (only rates are reported)."""

    hits: list[Hit] = field(default_factory=list)
    answers: list[Answered] = field(default_factory=list)
    utility: list[tuple[str, bool]] = field(default_factory=list)
    request_ms: list[float] = field(default_factory=list)
    errors: int = 0
    channels: list[str] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The run as the report holds it: rates, counts and times."""
        success = metrics.success_table(self.hits)
        by_channel = {c: metrics.overall([h for h, ch in zip(self.hits, self.channels,
                                                              strict=True) if ch == c])
                      for c in sorted(set(self.channels))}
        tasks = sorted({t for t, _ in self.utility})
        return {
            "attack_success": success,
            "refusal_rate": metrics.refusal_rates(self.answers),
            "task_inconsistency": metrics.task_inconsistency(success),
            "utility_accuracy": metrics.rate(ok for _, ok in self.utility),
            "ms_per_request": statistics.fmean(self.request_ms) if self.request_ms else None,
            "partial_success": metrics.success_table(self.hits, partial=True),
            "values_measured": metrics.counts_table(self.hits),
            "overall_success": metrics.overall(self.hits),
            "success_by_kind": metrics.by_kind(self.hits),
            "success_by_framing": metrics.by_framing(self.hits),
            "success_by_channel": by_channel,
            "utility_by_task": {t: metrics.rate(ok for u, ok in self.utility if u == t)
                                for t in tasks},
            "utility_questions": len(self.utility),
            "requests": len(self.request_ms),
            "errors": self.errors,
            "ms_per_request_median": statistics.median(self.request_ms)
            if self.request_ms else None,
            "veil_ms": _veil_ms(self.audit),
        }


def _veil_ms(audit: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The gateway's own protection time, from its audit log: per request and per image."""
    chats = [r for r in audit if r.get("endpoint") == "/v1/chat/completions"
             and isinstance((r.get("ms") or {}).get("protect"), int | float)]
    if not chats:
        return None
    with_images = [r for r in chats if r.get("images")]
    text_only = [r for r in chats if not r.get("images")]
    return {
        "protect_per_request": statistics.fmean(r["ms"]["protect"] for r in chats),
        "protect_per_image": statistics.fmean(r["ms"]["protect"] / r["images"]
                                              for r in with_images) if with_images else None,
        "protect_per_text_request": statistics.fmean(r["ms"]["protect"] for r in text_only)
        if text_only else None,
        "requests": len(chats),
    }


def _content(parts: Sequence[Part]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        if part.image is not None:
            url = "data:image/png;base64," + base64.b64encode(part.image).decode()
            out.append({"type": "image_url", "image_url": {"url": url}})
        else:
            out.append({"type": "text", "text": part.text or ""})
    return out


class Client:
    """Sends chats to an OpenAI-compatible base URL (``.../v1``)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None,
                 timeout: float = 300.0, sessions: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)
        self.model = model
        self.sessions = sessions
        """Prefix of the ``X-Veil-Session`` of each conversation; None sends no header."""

    def close(self) -> None:
        self._http.close()

    def chat(self, messages: list[dict[str, Any]], session: str | None) -> tuple[str | None,
                                                                                  float]:
        """The answer's text (None on any error) and the request's milliseconds."""
        headers = {"X-Veil-Session": session} if session and self.sessions else {}
        start = time.perf_counter()
        try:
            response = self._http.post("/chat/completions", headers=headers, json={
                "model": self.model, "messages": messages, "temperature": 0})
            ms = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                return None, ms
            content = response.json()["choices"][0]["message"].get("content")
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
            return None, (time.perf_counter() - start) * 1000
        if isinstance(content, list):  # some servers answer in parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return (content if isinstance(content, str) else ""), ms

    def run(self, probes: Sequence[Probe], progress: Progress | None = None,
            label: str = "") -> RunResult:
        """Send every probe; measure its last answer."""
        result = RunResult()
        for n, probe in enumerate(probes, 1):
            answer = self._probe(probe, result)
            if probe.framing == "utility":
                assert probe.task is not None
                ok = answer is not None and metrics.utility_correct(probe.task, probe.expected,
                                                                    answer)
                result.utility.append((probe.task, ok))
            else:
                text = answer or ""
                result.answers.append(Answered(probe.framing, metrics.is_refusal(text),
                                               result.request_ms[-1]))
                for kind, value in probe.values.items():
                    result.hits.append(Hit(probe.framing, kind, metrics.disclosed(value, text),
                                           metrics.partly_disclosed(value, text)))
                    result.channels.append(probe.channel)
            if progress is not None:
                progress(label, n, len(probes))
        return result

    def _probe(self, probe: Probe, result: RunResult) -> str | None:
        history: dict[int, list[dict[str, Any]]] = {}
        answer: str | None = None
        for turn in probe.turns:
            messages = history.setdefault(turn.conversation, [
                {"role": "system", "content": probe.document.scenario.system}])
            messages.append({"role": "user", "content": _content(turn.parts)})
            session = f"{self.sessions}-{probe.id}-{turn.conversation}" if self.sessions \
                else None
            answer, ms = self.chat(messages, session)
            result.request_ms.append(ms)
            if answer is None:
                result.errors += 1
                return None
            messages.append({"role": "assistant", "content": answer})
        return answer


@contextmanager
def endpoint(url: str | None, folder: Path) -> Iterator[str]:
    """``url``, or a fresh ocr-reader (empty memory) served locally when it is None."""
    if url is not None:
        yield url.rstrip("/")
        return
    from veil.eval.reader import create_reader_app

    with serve(create_reader_app(), ready_path="/readyz") as base:
        yield f"{base}/v1"


def run_variant(probes: Sequence[Probe], url: str | None, model: str, folder: Path, *,
                variant: Variant, base_policy: Policy | None = None,
                api_key: str | None = None, progress: Progress | None = None,
                timeout: float = 300.0) -> RunResult:
    """One run: the probes sent straight to the model, or through a fresh Veil gateway."""
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        upstream = stack.enter_context(endpoint(url, folder))
        if variant.protect is None:
            client = Client(upstream, model, api_key, timeout)
        else:
            policy = base_policy or Policy()
            if variant.policy:
                policy = Policy.from_dict({**policy.model_dump(mode="json",
                                                               exclude_defaults=True),
                                           **variant.policy})
            base = stack.enter_context(gateway(upstream, folder, policy, variant.protect,
                                               api_key))
            client = Client(f"{base}/v1", model, timeout=timeout,
                            sessions=f"eval-{uuid.uuid4().hex[:8]}")
        stack.callback(client.close)
        result = client.run(probes, progress, variant.name)
    audit = folder / "audit.jsonl"
    if variant.protect is not None and audit.is_file():
        result.audit = [json.loads(line) for line in audit.read_text().splitlines()
                        if line.strip()]
    return result


SWEEP_FRAMINGS = ("direct", "caption", "rephrase", "utility")
"""The sweep uses these framings only: one question per kind and the two open requests."""

NOTES = (
    "Measured answer: the model's own. Through Veil, the probes go to the gateway under a "
    "role that restores nothing, so pseudonyms stay in the answer; restoring would put the "
    "user's own values back, which is no disclosure by the model.",
    "A value counts as disclosed when it appears in the answer as planted, or after case "
    "folding and removing every space and punctuation mark from both; 'partly disclosed' "
    "when at least half of its tokens appear.",
    "Task inconsistency: per kind, the largest minus the smallest success rate across the "
    "five task framings (direct, caption, vqa, rephrase, classify).",
    "Refusals are recognised by phrases such as \"I can't share\" or \"I'm sorry, but\".",
    "Utility: 'what kind of document is this' (right when a word of the scenario's document "
    "kind is in the answer) and 'how many people are in this photo' (right when the first "
    "number is the count drawn).",
    "A request that fails (HTTP error, blocked by the gateway) counts as no disclosure and "
    "as a wrong utility answer; failures are counted under 'errors'.",
    "Fake values come from Faker (en_US, seeded); phone extensions are dropped.",
)
READER_NOTE = (
    "The model is the built-in ocr-reader: it reads every image with OCR and every message, "
    "answers a question naming a kind of value or a field label with that field's value and "
    "anything else with everything it read, remembers all it was given across requests "
    "(worst-case retention), counts people with CenterFace (score >= 0.3) and names a "
    "document by its tallest text. It is an upper bound of disclosure for what can be read, "
    "not a model of any real VLM's behaviour; it never refuses."
)


@dataclass(frozen=True, slots=True)
class Plan:
    """What ``evaluate`` runs."""

    url: str | None
    model: str
    runs: tuple[str, ...]
    documents: int = 24
    kinds: tuple[str, ...] = metrics.KINDS
    seed: int = 0
    sweep_documents: int = 0
    thumbnails: int = 2
    policy: Policy | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 300.0


def evaluate(plan: Plan, work: Path, progress: Progress | None = None
             ) -> tuple[dict[str, Any], list[tuple[str, bytes, bytes | None]]]:
    """Run the plan; the report and (caption, before, after) PNG pairs for thumbnails."""
    from veil.eval.probes import build_probes, make_documents

    docs = make_documents(max(plan.documents, plan.sweep_documents), plan.seed)
    probes = build_probes(docs[: plan.documents], plan.kinds)
    report: dict[str, Any] = {}
    variants = {"without_veil": SWEEP[0], "with_veil": SWEEP[-1]}
    for name in plan.runs:
        result = run_variant(probes, plan.url, plan.model, work / name,
                             variant=variants[name], base_policy=plan.policy,
                             api_key=plan.api_key, progress=progress, timeout=plan.timeout)
        report[name] = result.summary()
    if plan.sweep_documents:
        subset = [p for p in build_probes(docs[: plan.sweep_documents], plan.kinds)
                  if p.framing in SWEEP_FRAMINGS]
        report["sweep"] = []
        for i, variant in enumerate(SWEEP):
            summary = run_variant(subset, plan.url, plan.model, work / f"sweep-{i}",
                                  variant=variant, base_policy=plan.policy,
                                  api_key=plan.api_key, progress=progress,
                                  timeout=plan.timeout).summary()
            report["sweep"].append({
                "variant": variant.name, "protect": list(variant.protect or []),
                "policy": variant.policy, "attack_success": summary["overall_success"],
                "success_by_framing": {f: summary["success_by_framing"][f]
                                       for f in SWEEP_FRAMINGS if f != "utility"},
                "utility_accuracy": summary["utility_accuracy"],
                "utility_by_task": summary["utility_by_task"],
                "ms_per_request": summary["ms_per_request"], "errors": summary["errors"]})
    report["meta"] = _meta(plan, len(probes), report)
    return report, _thumbnails(docs[: plan.thumbnails], plan)


def _meta(plan: Plan, probes: int, report: dict[str, Any]) -> dict[str, Any]:
    target = "the built-in ocr-reader" if plan.url is None else f"model {plan.model}"
    meta: dict[str, Any] = {
        "endpoint": "ocr-reader (built in)" if plan.url is None else plan.url,
        "model": plan.model, "documents": plan.documents, "probes_per_run": probes,
        "kinds": list(plan.kinds), "seed": plan.seed,
        "sweep_documents": plan.sweep_documents, "sweep_framings": list(SWEEP_FRAMINGS),
        "description": f"{plan.documents} generated documents (hiring, identity verification, "
                       f"finance, not specific), each as a picture and as text, with a photo; "
                       f"{probes} probes per run against {target}.",
        "notes": [*NOTES, *([READER_NOTE] if plan.url is None else [])],
    }
    if "with_veil" in report and "without_veil" in report:
        with_, without = report["with_veil"], report["without_veil"]
        veil = with_.get("veil_ms") or {}
        meta["cost"] = {
            "added_ms_per_request": with_["ms_per_request"] - without["ms_per_request"]
            if with_["ms_per_request"] is not None and without["ms_per_request"] is not None
            else None,
            "protect_ms_per_request": veil.get("protect_per_request"),
            "protect_ms_per_image": veil.get("protect_per_image"),
            "protect_ms_per_text_request": veil.get("protect_per_text_request"),
        }
    return meta


def _thumbnails(docs: Sequence[Any], plan: Plan) -> list[tuple[str, bytes, bytes | None]]:
    """Probe pictures and what the gateway's policy makes of them (same Redactor code)."""
    if not docs or "with_veil" not in plan.runs:
        return [(f"document {d.index} ({d.scenario.name})", d.image, None) for d in docs]
    from veil.eval.serving import eval_policy
    from veil.images import decode_image, encode_image
    from veil.pipeline import Redactor

    redactor = Redactor(eval_policy(plan.policy))
    out: list[tuple[str, bytes, bytes | None]] = []
    for doc in docs:
        for what, data in (("document", doc.image), ("photo", doc.photo)):
            picture = decode_image(data, redactor.policy.limits)
            hidden, _ = redactor.redact(picture)
            out.append((f"{what} {doc.index} ({doc.scenario.name})", data,
                        encode_image(hidden, redactor.policy.jpeg_quality)))
    return out
