"""The embedded generation engine: llama.cpp's own OpenAI-compatible server, in its own process.

`python -m service.generation.llama_server --model FILE.gguf` loads the model with xllamacpp's
prebuilt CPU build (AVX2 code, no AVX-512 or AMX kernels, so it runs on any x86-64 CPU with
AVX2), serves it on loopback, and prints one JSON line `{"address": "http://127.0.0.1:PORT"}`
on stdout once it is listening. The service starts and supervises it (`engine.py`); anyone can
also run it by hand and point `RAGQA_GENERATOR_URL` at it.

It imports nothing of ragqa beyond the standard library and xllamacpp, so it starts fast and a
fault in llama.cpp can only take this process down.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading


def build_params(args: argparse.Namespace) -> object:
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.n_parallel = args.slots
    # Each slot gets its own `ctx` tokens of KV cache (not one shared pool), so a pinned slot
    # keeps its prompt prefix however long the other slots' prompts are.
    params.kv_unified = False
    params.n_ctx = args.ctx * args.slots
    params.n_batch = args.batch
    params.n_ubatch = args.batch
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    # Health checks and tokenizer calls must not queue behind the streams in flight.
    params.n_threads_http = args.slots + 4
    params.cache_prompt = True
    params.endpoint_slots = True
    params.endpoint_props = True
    params.endpoint_metrics = True
    params.use_jinja = True
    params.sampling.seed = args.seed
    if args.alias:
        params.model_alias = {args.alias}
    return params


def system_info() -> str:
    """The CPU features this llama.cpp build was compiled with (AMX never among them)."""
    import xllamacpp as xlc

    return str(xlc.get_system_info())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--ctx", type=int, default=4096, help="context tokens per slot")
    parser.add_argument("--slots", type=int, default=1, help="requests served at once")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--batch",
        type=int,
        default=128,
        help="prompt tokens evaluated per step; a cancelled request stops at a step's end, "
        "and on a CPU larger steps are barely faster",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alias", default="", help="model name the server reports")
    parser.add_argument("--parent-pid", type=int, default=0, help="exit when this process ends")
    parser.add_argument("--system-info", action="store_true", help="print the build's features")
    args = parser.parse_args(argv)
    if args.system_info:
        print(system_info())
        return 0
    if not args.model:
        parser.error("--model is required")

    import xllamacpp as xlc

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    try:
        server = xlc.Server(build_params(args))
    except Exception as e:  # the model did not load: say why, on the line the parent reads
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        return 1
    print(json.dumps({"address": server.listening_address}), flush=True)
    while not stopped.wait(1.0):
        if args.parent_pid and os.getppid() != args.parent_pid:
            break  # the service that started this engine is gone (even by SIGKILL)
    sys.stdout.flush()
    os._exit(0)  # not the server's destructor: a stop must not wait on requests in flight


if __name__ == "__main__":
    sys.exit(main())
