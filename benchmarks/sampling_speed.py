"""Microseconds to sample one token per row: ``torch.multinomial`` (what ``generate`` uses)
against the rollout's inverse-CDF sampler (``rlhf_text.sampling``); prints a table.

Both draw from the same softmax probabilities, ``(batch, vocab)``; the sampler also draws its
per-row uniforms from a generator, as a rollout step does. Best of ``--repeats`` rounds of
``--calls`` calls each, on ``--threads`` torch threads.

    .venv/bin/python benchmarks/sampling_speed.py [--vocab 512 49152] [--batch-sizes 1 8 64]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from rlhf_text.sampling import row_uniforms, sample_tokens


def best_microseconds(fn: Callable[[], object], calls: int, repeats: int) -> float:
    fn()  # warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vocab", type=int, nargs="+", default=[512, 49152])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if min(args.vocab + args.batch_sizes) < 1 or args.calls < 1 or args.repeats < 1:
        parser.error("vocab, batch sizes, calls and repeats must be >= 1")
    torch.set_num_threads(args.threads)
    print(f"torch threads {args.threads}, best of {args.repeats} x {args.calls} calls\n")
    print("| vocab | batch | multinomial (us) | inverse CDF (us) | multinomial / inverse CDF |")
    print("|---:|---:|---:|---:|---:|")
    generator = torch.Generator().manual_seed(0)
    for vocab in args.vocab:
        for batch in args.batch_sizes:
            probs = torch.softmax(torch.randn(batch, vocab, generator=generator), dim=-1)
            multinomial = best_microseconds(
                lambda probs=probs: torch.multinomial(probs, 1), args.calls, args.repeats
            )
            inverse_cdf = best_microseconds(
                lambda probs=probs: sample_tokens(
                    probs, row_uniforms(generator, len(probs), (0, 1))
                ),
                args.calls,
                args.repeats,
            )
            print(
                f"| {vocab:,} | {batch} | {multinomial:,.0f} | {inverse_cdf:,.0f} "
                f"| {multinomial / inverse_cdf:.1f}x |"
            )


if __name__ == "__main__":
    main()
