"""What MC prediction computes where: a value built from the model and the request.

`layout_for(model, split)` reads the model once (cached with its compiled
functions) and says what runs once per input (the deterministic prefix), where
its output is cropped, what is replicated per MC sample and which steps are
fused. `chunk_plan(...)` adds the request: how many inputs `k` and samples `m`
one compiled call takes. Both are frozen dataclasses; nothing is written onto
the model or its layers. The sampling copies get their part of the layout
(`live`, `mask_layout`) when they are constructed (`graph`, `run`).
"""

from __future__ import annotations

import dataclasses
import os
import platform

import keras

from mcbridge._engine import graph, registry
from mcbridge.switch import iter_layers


@dataclasses.dataclass(frozen=True)
class Layout:
    """How one model is sampled, whatever the request.

    Attributes:
        split: Whether the deterministic prefix runs once per input (the
            fast path); False is the reference that runs every layer on
            every replica.
        chain: The model's layers if its graph is one chain (a Sequential
            model or a functional chain), else None (a general graph, split
            at the first sampled layer's input when every path goes through it).
        first: Chain index of the first layer that is, or contains, a
            sampled layer, or of a layer before it that makes a Keras mask
            (the prefix cannot pass a mask on); None for a general graph.
        live: Per chain position: for a bit-mask layer that passes regions
            on, the leading spatial region of its input that the output
            depends on (None: all of it, or not such a layer).
        pooled: Chain indices of the dropouts whose masks are drawn in 2x2
            windows for the max-pool after them: the fast path runs each
            with its pool as one step.
        crop: `(full, needed)` spatial extents: the prefix output is cropped
            to its leading `needed` region once per input (None: no crop).
        fused_head: The first sampled layer is applied to the broadcast
            prefix output instead of a tiled copy (and pooled in the same
            step when `first` is in `pooled`).
        per_replica: Some sampled layer draws one mask per MC replica
            (DropConnect): the suffix is built for each replica count `m`.
    """

    split: bool
    chain: tuple | None
    first: int | None
    live: tuple
    pooled: tuple
    crop: tuple | None
    fused_head: bool
    per_replica: bool = False


def layout_for(model: keras.Model, split: bool = True) -> Layout:
    """The `Layout` of a Sequential or functional `model` with at least one sampled layer."""
    chain = graph.as_chain(model)
    per_replica = any(registry.is_sampled(l) and registry.is_per_replica(l) for l in iter_layers(model))
    if chain is None:
        return Layout(split, None, None, (), (), None, False, per_replica)
    first = next(i for i, layer in enumerate(chain) if graph.contains_sampled(layer))
    # A Keras mask made before the first sampled layer would not cross the cut:
    # the prefix ends before the layer that makes it.
    first = next((i for i, layer in enumerate(chain[:first]) if graph.makes_mask(layer)), first)
    needs = graph.needed_input_extents(chain, passes=graph.crops_pointwise)
    # `live` is what each bit-mask layer masks: the same in both modes, so
    # the fast path and the reference draw the same masks.
    live = tuple(need if registry.is_bit_mask(layer) else None for layer, need in zip(chain, needs))
    pooled = tuple(
        i for i in range(first, len(chain) - 1) if graph.pools_in_windows(chain[i], chain[i + 1], live[i])
    )
    crop = None
    if split and live[first] is not None:  # only a bit-mask layer that passes regions on has one
        crop = (graph.spatial_dims(chain[first].input.shape), live[first])
    fused_head = split and registry.is_bit_mask(chain[first])
    return Layout(split, tuple(chain), first, live, pooled, crop, fused_head, per_replica)


@dataclasses.dataclass(frozen=True)
class ChunkPlan:
    """The request's share of the plan: `k` inputs x `m` samples per compiled call.

    Attributes:
        n: Inputs.
        n_samples: MC samples per input.
        k: Inputs per compiled call (the last chunk is padded to `k`).
        m: Replicas per input in one call (the last sample block draws `m`
            and keeps what it needs).
    """

    n: int
    n_samples: int
    k: int
    m: int

    @property
    def n_chunks(self) -> int:
        """Compiled calls the run makes."""
        return -(-self.n // self.k) * -(-self.n_samples // self.m)


def chunk_plan(n: int, n_samples: int, batch_size: int, row_bytes: int, budget: int) -> ChunkPlan:
    """Inputs `k` and samples `m` per compiled call, `k * m` rows of `row_bytes` within `budget`."""
    max_rows = max(1, budget // row_bytes)
    m = min(n_samples, max_rows)
    k = max(1, min(batch_size, n, max_rows // m))
    return ChunkPlan(n, n_samples, k, m)


# Instruction-set flags (Linux `/proc/cpuinfo`) that give fast bfloat16 arithmetic.
_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 AVX-512 / AMX; "bf16" on Arm
# oneDNN caps (`ONEDNN_MAX_CPU_ISA`) that still include bfloat16 instructions.
_BF16_ISAS = ("BF16", "AMX", "FP16", "AVX10", "ALL", "DEFAULT")


def bfloat16_instructions(cpuinfo: str | None = None, isa_cap: str | None = None) -> list[str]:
    """The CPU's bfloat16 instruction sets that TensorFlow (oneDNN) may use; [] if none.

    Reads the flags of `/proc/cpuinfo` (`cpuinfo`: its text, for tests).
    `ONEDNN_MAX_CPU_ISA` (`isa_cap`) set to an instruction set without
    bfloat16 (e.g. `AVX2`, `AVX512_CORE`) hides them. Elsewhere than Linux
    (no `/proc/cpuinfo`), [] unless the machine is an Apple Arm Mac.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            return ["arm64"] if platform.system() == "Darwin" and platform.machine() == "arm64" else []
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.split(":")[0].strip().lower() in ("flags", "features"):
            flags.update(line.split(":", 1)[1].split())
            break
    found = [f for f in _BF16_FLAGS if f in flags]
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "") if isa_cap is None else isa_cap
    if found and cap and not any(isa in cap.upper() for isa in _BF16_ISAS):
        return []
    return found


#: What bfloat16 costs without bfloat16 instructions (BENCHMARKS.md, issue 11).
_NO_BF16_COST = (
    "Emulated, bfloat16 ran the seed CNN 2.6x slower than float32 (a Xeon with "
    "oneDNN capped at AVX512_CORE), and with AVX2 only TensorFlow's oneDNN "
    "convolutions refuse bfloat16."
)


def resolve_precision(precision: str) -> str:
    """The precision to compute in on this CPU, for a checked `precision`.

    `"bfloat16"` without bfloat16 instructions (`bfloat16_instructions`)
    warns (`MCBridgeWarning`) and gives `"float32"`. Call it after every
    argument check, so that argument errors do not depend on the CPU.
    """
    from mcbridge._checks import MCBridgeWarning, warn

    if precision == "bfloat16" and not bfloat16_instructions():
        warn(
            "precision='bfloat16': this CPU has no bfloat16 instructions (avx512_bf16, "
            "amx_bf16 or Arm bf16; or ONEDNN_MAX_CPU_ISA excludes them), so mcbridge "
            f"computes in float32 instead. {_NO_BF16_COST} Pass precision='float32' here.",
            MCBridgeWarning,
        )
        return "float32"
    return precision

