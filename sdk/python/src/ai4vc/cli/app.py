"""`ai4vc`, the command line over the SDK: transcribe files or folders (SRT, WebVTT, JSON, text),
stream a file or the microphone, synthesize, translate, transliterate, discovery, API keys, usage.

Failures print one line a shell user can act on and exit with a code per kind of failure
(see EXIT_CODES); no tracebacks for server or connection errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer
from google.protobuf import json_format
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.metrics.v1 import metrics_service_pb2 as metrics_pb
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.sdk import subtitles
from ai4vc.sdk.audio import AUDIO_SUFFIXES
from ai4vc.sdk.client import Client
from ai4vc.sdk.credentials import ApiKey, Jwt
from ai4vc.sdk.errors import Ai4vcError
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb

# Exit codes, documented in sdk/python/README.md.
OK, FAILED, USAGE, REFUSED, NOT_FOUND, EXHAUSTED, UNREACHABLE = 0, 1, 2, 3, 4, 5, 6
EXIT_CODES: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: USAGE,
    grpc.StatusCode.OUT_OF_RANGE: USAGE,
    grpc.StatusCode.FAILED_PRECONDITION: USAGE,
    grpc.StatusCode.UNAUTHENTICATED: REFUSED,
    grpc.StatusCode.PERMISSION_DENIED: REFUSED,
    grpc.StatusCode.NOT_FOUND: NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED: EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE: UNREACHABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: UNREACHABLE,
}

FORMATS = ("text", "json", "srt", "vtt")
SUFFIX = {"text": ".txt", "json": ".json", "srt": ".srt", "vtt": ".vtt"}

app = typer.Typer(name="ai4vc", help="AI4V-C from the shell: speech, translation and transliteration for "
                  "Indian languages.", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
keys_app = typer.Typer(help="API keys: create, list, revoke (needs the admin scope).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class Options:
    endpoint: str
    api_key: str
    token: str
    tls: bool
    ca_cert: Path | None
    timeout: float
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.endpoint, api_key=self.api_key or None, token=self.token or None,
                                  # --no-tls (the default) leaves an https:// endpoint or a CA bundle to decide
                                  tls=self.tls or None, root_certificates=self.ca_cert, timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def describe(error: Ai4vcError, options: Options) -> str:
    """One line saying what failed and what to do about it."""
    detail = error.message + (f" [{error.reason}]" if error.reason else "")
    if error.field_violations:
        detail += "; " + "; ".join(f"{v.field}: {v.description}" for v in error.field_violations)
    code = error.code.name
    if error.code == grpc.StatusCode.UNAUTHENTICATED:
        client = options._client
        credential = client.credential if client is not None else None
        if isinstance(credential, ApiKey):
            return f"the API key was refused ({code}): {detail}. Check --api-key or AI4VC_API_KEY."
        if isinstance(credential, Jwt):
            return f"the token was refused ({code}): {detail}. Sign in again, or use an API key."
        return f"no credential was given ({code}): {detail}. Pass --api-key or set AI4VC_API_KEY (make key)."
    if error.code == grpc.StatusCode.PERMISSION_DENIED:
        return f"the credential lacks the scope this call needs ({code}): {detail}."
    if error.code == grpc.StatusCode.UNAVAILABLE:
        return (f"cannot reach AI4V-C at {options.endpoint} ({code}): {detail}. Is the platform running "
                "(make up)? Set --endpoint or AI4VC_ENDPOINT.")
    if error.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"no answer from {options.endpoint} within {options.timeout:g} s ({code}): {detail}. Try --timeout."
    if error.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        wait = f" Retry in {error.retry_delay:g} s." if error.retry_delay else ""
        return f"rate limit or quota reached ({code}): {detail}.{wait}"
    if error.code == grpc.StatusCode.INVALID_ARGUMENT:
        return f"the server rejected the request ({code}): {detail}"
    return f"the call failed ({code}): {detail}"


@contextmanager
def handled(options: Options) -> Iterator[None]:
    """Turn SDK and local errors into a message on stderr and an exit code."""
    try:
        yield
    except Ai4vcError as exc:
        err.print(f"error: {describe(exc, options)}", markup=False)
        raise typer.Exit(EXIT_CODES.get(exc.code, FAILED)) from None
    except (ValueError, OSError, RuntimeError) as exc:  # bad input files, no microphone
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(USAGE if isinstance(exc, ValueError | FileNotFoundError) else FAILED) from None


def _options(ctx: typer.Context) -> Options:
    return ctx.ensure_object(Options)


@app.callback()
def main_options(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Option(envvar="AI4VC_ENDPOINT", help="host:port of the edge (Envoy).")]
    = "localhost:8080",
    api_key: Annotated[str, typer.Option(envvar="AI4VC_API_KEY", help="API key (x-api-key).", show_default=False)]
    = "",
    token: Annotated[str, typer.Option(envvar="AI4VC_TOKEN", help="JWT access token instead of a key.",
                                       show_default=False)] = "",
    tls: Annotated[bool, typer.Option(envvar="AI4VC_TLS", help="Connect with TLS.")] = False,
    ca_cert: Annotated[Path | None, typer.Option(envvar="AI4VC_CA_CERT", help="CA bundle for TLS (PEM).")] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Deadline per call, seconds.")] = 30.0,
) -> None:
    ctx.obj = Options(endpoint, api_key, token, tls, ca_cert, timeout)
    ctx.call_on_close(ctx.obj.close)


def _text_arg(text: str) -> str:
    return sys.stdin.read().strip() if text == "-" else text


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(", ".join(v) if isinstance(v, list) else str(v) for v in row))
    Console(highlight=False).print(table)


def _pages(call: Callable[..., Any], request: Any, field_name: str) -> list[Any]:
    items: list[Any] = []
    while True:
        answer = call(request)
        items.extend(getattr(answer, field_name))
        if not answer.next_page_token:
            return items
        request.page_token = answer.next_page_token


def _print_json(messages: list[Any]) -> None:
    print(json.dumps([json_format.MessageToDict(m) for m in messages], ensure_ascii=False, indent=2))


# --- speech ---------------------------------------------------------------------------------------


def render(answer: asr_pb.RecognizeResponse, fmt: str) -> str:
    """A Recognize answer as text, JSON, SRT or WebVTT."""
    if fmt == "json":
        return json.dumps(json_format.MessageToDict(answer), ensure_ascii=False, indent=2) + "\n"
    if fmt == "srt":
        return subtitles.srt(subtitles.cues_from_results(answer.results))
    if fmt == "vtt":
        return subtitles.webvtt(subtitles.cues_from_results(answer.results))
    return "\n".join(r.alternatives[0].transcript for r in answer.results if r.alternatives) + "\n"


@app.command()
def transcribe(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(exists=True, help="An audio file, or a folder of them.")],
    language: Annotated[str, typer.Option("--language", "-l", help="BCP-47 language of the speech.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, json, srt or vtt.")] = "text",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (for a file) or folder (for a "
                                                "folder); default stdout / next to each input.")] = None,
    model: Annotated[str, typer.Option(help="ASR model; default: the server's choice.")] = "",
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=64, help="Files in parallel.")] = 4,
) -> None:
    """Transcribe an audio file, or every audio file in a folder (in parallel, with a progress bar)."""
    options = _options(ctx)
    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
    with handled(options):
        client = options.client()
        if path.is_file():
            text = render(client.recognize_file(path, language=language, model=model), fmt)
            if output is None:
                sys.stdout.write(text)
            else:
                output.write_text(text, encoding="utf-8")
            return
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise ValueError(f"{path}: no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) in this folder")
        if output is not None:
            output.mkdir(parents=True, exist_ok=True)

        def one(file: Path) -> Path:
            target = (output / file.relative_to(path) if output is not None else file).with_suffix(SUFFIX[fmt])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render(client.recognize_file(file, language=language, model=model), fmt),
                              encoding="utf-8")
            return target

        failures: list[tuple[Path, Exception]] = []
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err) as progress, ThreadPoolExecutor(max_workers=jobs) as pool:
            task = progress.add_task("transcribing", total=len(files))
            futures = {pool.submit(one, f): f for f in files}
            for future in as_completed(futures):
                try:
                    future.result()
                except (Ai4vcError, ValueError, OSError) as exc:
                    failures.append((futures[future], exc))
                progress.advance(task)
        for file, failure in failures:
            message = describe(failure, options) if isinstance(failure, Ai4vcError) else str(failure)
            err.print(f"error: {file}: {message}", markup=False)
        err.print(f"{len(files) - len(failures)} of {len(files)} files transcribed", markup=False)
        if failures:
            first = failures[0][1]
            raise typer.Exit(EXIT_CODES.get(first.code, FAILED) if isinstance(first, Ai4vcError) else FAILED)


@app.command()
def stream(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(exists=True, dir_okay=False, help="A 16-bit PCM WAV file.")] = None,
    language: Annotated[str, typer.Option("--language", "-l", help="BCP-47 language of the speech.")] = "en",
    mic: Annotated[bool, typer.Option("--mic", help="Stream from the microphone (needs ai4vc[mic]).")] = False,
    realtime: Annotated[bool, typer.Option("--realtime/--fast", help="Pace a file as live audio, or send it as "
                                           "fast as possible.")] = True,
    interim: Annotated[bool, typer.Option("--interim/--final-only", help="Show interim results.")] = True,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json (one result per line).")] = "text",
) -> None:
    """Live recognition of a file (as if spoken now) or the microphone: interim results on stderr, finals
    on stdout."""
    options = _options(ctx)
    if (path is None) == (not mic):
        raise typer.BadParameter("give a FILE or --mic (one of them)", param_hint="FILE")
    with handled(options):
        client = options.client()
        results = (client.stream_microphone(language=language) if mic
                   else client.stream_file(path, language=language, realtime=realtime,  # type: ignore[arg-type]
                                           interim_results=interim))
        try:
            for result in results:
                text = result.alternatives[0].transcript if result.alternatives else ""
                if fmt == "json":
                    print(json.dumps(json_format.MessageToDict(result), ensure_ascii=False), flush=True)
                elif result.is_final:
                    print(text, flush=True)
                elif interim:
                    err.print(f"… {text}", markup=False)
        except KeyboardInterrupt:
            pass


@app.command()
def synthesize(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Text to speak ('-' reads stdin).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="WAV file to write.")] = Path("speech.wav"),
    voice: Annotated[str, typer.Option("--voice", "-v", help="Voice name (see `ai4vc voices`).")] = "",
    language: Annotated[str, typer.Option("--language", "-l", help="BCP-47 language; picks a voice.")] = "",
) -> None:
    """Speak TEXT into a WAV file, written chunk by chunk as the server streams it."""
    options = _options(ctx)
    with handled(options):
        seconds = options.client().synthesize_to_file(_text_arg(text), output, voice=voice, language=language)
        err.print(f"wrote {output} ({seconds:.2f} s of audio)", markup=False)


# --- text -----------------------------------------------------------------------------------------


@app.command()
def translate(
    ctx: typer.Context,
    texts: Annotated[list[str], typer.Argument(help="Text(s) to translate ('-' reads stdin, one per line).")],
    source: Annotated[str, typer.Option("--from", "-s", help="Source language (BCP-47).")],
    target: Annotated[str, typer.Option("--to", "-t", help="Target language (BCP-47).")],
    model: Annotated[str, typer.Option(help="NMT model; default: the server's choice.")] = "",
) -> None:
    """Translate text: `ai4vc translate --from hi --to ur "…"`; one line out per text in."""
    options = _options(ctx)
    contents = [line for line in sys.stdin.read().splitlines() if line.strip()] if texts == ["-"] else texts
    with handled(options):
        for line in options.client().translate_many(contents, source=source, target=target, model=model):
            print(line)


@app.command()
def transliterate(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Text to transliterate ('-' reads stdin).")],
    source: Annotated[str, typer.Option("--from", "-s", help="Source script/language code.")],
    target: Annotated[str, typer.Option("--to", "-t", help="Target script/language code.")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="Candidates to show.")] = 1,
) -> None:
    """Write TEXT in another script; with --top-k, the candidates best first, one per line."""
    options = _options(ctx)
    with handled(options):
        for candidate in options.client().transliterate(_text_arg(text), source=source, target=target, top_k=top_k):
            print(candidate)


# --- discovery ------------------------------------------------------------------------------------

JsonFlag = Annotated[bool, typer.Option("--json", help="JSON instead of a table.")]


@app.command()
def voices(ctx: typer.Context, language: Annotated[str, typer.Option("--language", "-l")] = "",
           as_json: JsonFlag = False) -> None:
    """The TTS voices the deployment serves."""
    options = _options(ctx)
    with handled(options):
        items = _pages(options.client().tts.list_voices, tts_pb.ListVoicesRequest(language_code=language,
                                                                                   page_size=100), "voices")
    if as_json:
        _print_json(items)
    else:
        _table("voices", ["name", "languages", "rate (Hz)", "streaming", "backend"],
               [[v.name, list(v.language_codes), v.natural_sample_rate_hertz, v.supports_streaming, v.backend]
                for v in items])


@app.command()
def models(ctx: typer.Context, language: Annotated[str, typer.Option("--language", "-l")] = "",
           as_json: JsonFlag = False) -> None:
    """The ASR models the deployment serves."""
    options = _options(ctx)
    with handled(options):
        items = _pages(options.client().asr.list_models, asr_pb.ListModelsRequest(language_code=language,
                                                                                   page_size=100), "models")
    if as_json:
        _print_json(items)
    else:
        _table("ASR models", ["name", "languages", "streaming", "backend", "description"],
               [[m.name, list(m.language_codes), m.supports_streaming, m.backend, m.description] for m in items])


@app.command()
def pairs(ctx: typer.Context,
          transliteration: Annotated[bool, typer.Option("--transliteration", help="Script pairs instead.")] = False,
          as_json: JsonFlag = False) -> None:
    """The translation language pairs (or transliteration script pairs) the deployment serves."""
    options = _options(ctx)
    with handled(options):
        nmt = options.client().nmt
        items = (_pages(nmt.list_transliteration_pairs, nmt_pb.ListTransliterationPairsRequest(page_size=100),
                        "transliteration_pairs") if transliteration
                 else _pages(nmt.list_language_pairs, nmt_pb.ListLanguagePairsRequest(page_size=100),
                             "language_pairs"))
    if as_json:
        _print_json(items)
    else:
        _table("transliteration pairs" if transliteration else "language pairs", ["from", "to", "backend"],
               [[p.source_language_code, p.target_language_code, p.backend] for p in items])


# --- keys and usage -------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="Display name of the application.")],
    scopes: Annotated[list[str], typer.Option("--scope", help="Scope to grant (repeat): asr, tts, nmt, …")],
    rpm: Annotated[int, typer.Option("--rpm", min=0, help="Requests per minute (0: no limit).")] = 0,
    owner: Annotated[str, typer.Option(help="Owner username; default: the caller.")] = "",
) -> None:
    """Create an API key; the secret is printed once, on stdout."""
    options = _options(ctx)
    with handled(options):
        answer = options.client().auth.create_api_key(auth_pb.CreateApiKeyRequest(
            display_name=name, scopes=scopes, owner=owner, quota=auth_pb.Quota(requests_per_minute=rpm)))
    err.print(f"created key {answer.api_key.key_id} ({', '.join(answer.api_key.scopes)}); "
              "store the secret now, it is not shown again", markup=False)
    print(answer.key)


@keys_app.command("list")
def keys_list(ctx: typer.Context,
              show_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
              as_json: JsonFlag = False) -> None:
    """The API keys (ids and scopes, never secrets)."""
    options = _options(ctx)
    with handled(options):
        items = _pages(options.client().auth.list_api_keys,
                       auth_pb.ListApiKeysRequest(page_size=100, show_revoked=show_revoked), "api_keys")
    if as_json:
        _print_json(items)
    else:
        _table("API keys", ["key id", "name", "owner", "scopes", "rpm", "revoked"],
               [[k.key_id, k.display_name, k.owner, list(k.scopes), k.quota.requests_per_minute,
                 k.revoke_time.ToJsonString() if k.HasField("revoke_time") else ""] for k in items])


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="The key id (ai4vc keys list).")],
                ) -> None:
    """Revoke an API key: the edge refuses it within seconds."""
    options = _options(ctx)
    with handled(options):
        answer = options.client().auth.revoke_api_key(auth_pb.RevokeApiKeyRequest(key_id=key_id))
    err.print(f"revoked {answer.api_key.key_id}", markup=False)


@app.command()
def usage(ctx: typer.Context,
          key_id: Annotated[str, typer.Option(help="Only this key (admin); default: every key you can see.")] = "",
          as_json: JsonFlag = False) -> None:
    """Today's usage: requests, errors, characters and audio seconds, by service."""
    options = _options(ctx)
    with handled(options):
        answer = options.client().metrics.get_usage_summary(metrics_pb.GetUsageSummaryRequest(key_id=key_id))
    if as_json:
        print(json_format.MessageToJson(answer, ensure_ascii=False))
        return
    today = answer.today
    rows = [["(all)", today.totals.request_count, today.totals.error_count, today.totals.characters,
             f"{today.totals.audio_seconds:.1f}"]]
    rows += [[d.value, d.totals.request_count, d.totals.error_count, d.totals.characters,
              f"{d.totals.audio_seconds:.1f}"] for d in today.by_service]
    _table("usage today", ["service", "requests", "errors", "characters", "audio s"], rows)


def main() -> None:
    """The console script."""
    app()
