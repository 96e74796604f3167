"""Deep ensembles: `k` models of one architecture trained from different starts.

A deep ensemble (Lakshminarayanan et al., 2017) trains the same architecture
`k` times on the same data, each time from a different random initialisation
and data order, and treats the `k` predictions as samples of the predictive
distribution. It gives the same `MCResult` as MC dropout, so every metric,
Arrow file and R function works on it:

    >>> ens = mcbridge.train_ensemble(mcbridge.build_cnn, x, y, k=5, epochs=3)
    >>> result = mcbridge.mc_predict(ens, x_test)   # samples (n, classes, 5)
    >>> ens.save("cnn.ensemble")                    # one file
    >>> ens = mcbridge.load_ensemble("cnn.ensemble")

With `n_samples > 1`, `mc_predict` also samples MC dropout inside each
member ("both"): `samples[..., j * n_samples + s]` is sample `s` of member
`j` (member-major order).

Members may have several inputs, outputs of any rank and several outputs,
as `mc_predict` takes for one model: `x` is a list (input order) or a dict
(by input name), and a model with several outputs gives a list of results.
All members must agree in their inputs and outputs: matched by name when
every member has the same input (output) names, else by position.

The artifact written by `Ensemble.save` is a zip file holding one `.keras`
file per member (`member_0.keras`, ...) and `ensemble.json`, a manifest with
the format name and version, the member file names and the seeds used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import keras
import numpy as np

from mcbridge._checks import (
    INT64_MAX,
    check_bool,
    check_inputs,
    check_int,
    check_model,
    check_output_shapes,
    check_precision,
    check_result_size,
    check_seed,
    check_tasks,
    has_rescaling,
    input_names,
    model_io,
    output_names,
    positive_int,
    publish,
)
from mcbridge._engine.plan import resolve_precision
from mcbridge._engine.run import deterministic_outputs
from mcbridge._predict_model import _check_classifier_block, mc_predict_model
from mcbridge.result import MCResult

__all__ = ["Ensemble", "train_ensemble", "load_ensemble", "mc_predict_ensemble"]

_FORMAT = "mcbridge.ensemble"
_FORMAT_VERSION = 1
_MANIFEST = "ensemble.json"


def _member_file(j: int) -> str:
    return f"member_{j}.keras"


def _member_seeds(seed: int | None, k: int) -> list[int]:
    """`k` independent 31-bit seeds drawn from one seed (fresh entropy when None)."""
    children = np.random.SeedSequence(seed).spawn(k)
    return [int(c.generate_state(1, np.uint32)[0] >> 1) for c in children]


class Ensemble:
    """A deep ensemble: `k` Keras models with the same inputs and outputs.

    Accepted where a model is: `mcbridge.mc_predict(ensemble, x)`; `len()`,
    iteration and indexing give the members.

    Args:
        members: One or more built `keras.Model`s (Sequential or
            functional) with the same inputs and outputs: the same number,
            each of the same shape (outputs `(batch, *dims, classes)` with
            every size known) and dtype. Inputs (outputs) are matched by
            name when every member has the same input (output) names, else
            by position.
        member_seeds: Optional seeds the members were trained with (one per
            member); kept in the saved manifest for the record.

    Attributes:
        members: Tuple of the member models.
        member_seeds: Tuple of ints, or None.

    Raises:
        TypeError: a member is not a `keras.Model`.
        ValueError: no members, a member that is not built, or members whose
            inputs or outputs differ (in number, shape or dtype).
    """

    def __init__(self, members: Sequence[keras.Model], member_seeds: Sequence[int] | None = None):
        if isinstance(members, keras.Model) or not isinstance(members, Sequence):
            raise TypeError(
                "Invalid value received for argument `members`. Expected a list "
                f"of keras.Model. Received: members of type {type(members).__name__}"
            )
        members = tuple(members)
        if not members:
            raise ValueError(
                "Invalid value received for argument `members`. Expected at "
                "least one model. Received: members=[]"
            )
        for m in members:
            check_model(m)
        self._io = _members_io(members)
        if member_seeds is not None:
            member_seeds = tuple(int(s) for s in member_seeds)
            if len(member_seeds) != len(members):
                raise ValueError(
                    "Invalid value received for argument `member_seeds`. Expected "
                    f"{len(members)} seeds (one per member). Received: {len(member_seeds)}"
                )
        self.members = members
        self.member_seeds = member_seeds

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self) -> Iterator[keras.Model]:
        return iter(self.members)

    def __getitem__(self, j: int) -> keras.Model:
        return self.members[j]

    def __repr__(self) -> str:
        return f"<Ensemble k={len(self)} members={[m.name for m in self.members]}>"

    def _repr_html_(self) -> str:
        """A compact HTML summary for notebooks: members, shapes, parameters, seeds."""
        from mcbridge import _html

        first, io = self.members[0], self._io
        rows = [
            ("members", f"{len(self)}: {_html.names([m.name for m in self.members])}"),
            ("input shape" if len(io.specs) == 1 else "input shapes", ", ".join(str(spec[0]) for spec in io.specs)),
            ("outputs", _outputs_text(io) + " per input"),
            ("parameters", f"{sum(m.count_params() for m in self.members):,} in all "
                           f"({first.count_params():,} in the first member)"),
            ("member seeds", "not recorded" if self.member_seeds is None else _html.names(self.member_seeds)),
        ]  # fmt: skip
        note = "mcbridge.mc_predict(ensemble, x) gives one sample per member (n_samples > 1 adds MC dropout)."
        return _html.table("Ensemble", rows, note)

    def save(self, path: str | os.PathLike) -> None:
        """Save the ensemble as one zip file: `member_j.keras` files plus `ensemble.json`.

        The file appears only once complete (written to a temporary file in
        the same folder, then renamed); on error no partial file is left and
        an existing file at `path` is untouched.

        Args:
            path: Destination file (any name; e.g. `"model.ensemble"`).
        """
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".mcbridge-ensemble-", suffix=".tmp", dir=folder)
        os.close(fd)
        try:
            with tempfile.TemporaryDirectory(prefix="mcbridge-ensemble-") as work:
                with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
                    for j, member in enumerate(self.members):
                        member_path = os.path.join(work, _member_file(j))
                        member.save(member_path)
                        zf.write(member_path, _member_file(j))
                    manifest = {
                        "format": _FORMAT,
                        "format_version": _FORMAT_VERSION,
                        "k": len(self),
                        "members": [_member_file(j) for j in range(len(self))],
                        "member_seeds": None if self.member_seeds is None else list(self.member_seeds),
                        "keras_version": keras.__version__,
                    }
                    zf.writestr(_MANIFEST, json.dumps(manifest, indent=2))
            publish(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise


class _MembersIO(NamedTuple):
    """What the members agree on, in the first member's order, and how each member's order maps to it."""

    specs: list  # `(shape, dtype)` of each input (batch axis first)
    input_names: list  # the first member's; `names_agree`: every member's
    shapes: list  # each output's shape but the batch axis, `(*dims, classes)`
    output_names: list
    names_agree: bool  # every member has the same input names (a dict `x` is read by them)
    inputs: list  # per member: for its input i, the index of the input (first member's order) it takes
    outputs: list  # per member: for output o (first member's order), the index of its own output


def _outputs_text(io: _MembersIO) -> str:
    """`3`, `(4, 4, 3)`, or `label 3, value 2` for several outputs."""
    shapes = [str(s[0]) if len(s) == 1 else str(s) for s in io.shapes]
    return shapes[0] if len(shapes) == 1 else ", ".join(f"{n} {s}" for n, s in zip(io.output_names, shapes))


def _match(names: list, first: list) -> list | None:
    """For each of `names`, its index in `first`, when both hold the same distinct names; else None."""
    if len(set(names)) != len(names) or set(names) != set(first):
        return None
    return [first.index(name) for name in names]


def _members_io(members: Sequence[keras.Model]) -> _MembersIO:
    """The inputs and outputs the members share.

    Raises:
        ValueError: a member that is not built or has an output with axes of
            unknown size, or members that differ in their inputs or outputs.
    """
    ios = []
    for m in members:
        specs, out_shapes = model_io(m, "an ensemble member")
        shapes = check_output_shapes(m, out_shapes, "an ensemble member")
        ios.append(([(tuple(s[1:]), np.dtype(d).name) for s, d in specs], shapes, input_names(m), output_names(m)))
    specs, shapes, in_names, out_names = ios[0]
    agree = True
    inputs, outputs = [], []
    for j, (m, (m_specs, m_shapes, m_in, m_out)) in enumerate(zip(members, ios)):
        where = f"Member {j + 1} ({m.name!r}) and member 1 ({members[0].name!r})"
        if len(m_specs) != len(specs) or len(m_shapes) != len(shapes):
            raise ValueError(
                f"Invalid value received for argument `members`. {where} differ: {len(m_specs)} input(s) and "
                f"{len(m_shapes)} output(s) against {len(specs)} and {len(shapes)}. An ensemble's members "
                "need the same inputs and outputs (build them all with one function)."
            )
        order = _match(m_in, in_names)
        agree = agree and order is not None
        order = list(range(len(specs))) if order is None else order
        got = [m_specs[i] for i in range(len(specs))]
        want = [specs[order[i]] for i in range(len(specs))]
        if got != want:
            raise ValueError(
                f"Invalid value received for argument `members`. {where} differ in their inputs "
                f"(shape but the batch axis, dtype): {got} against {want}. An ensemble's members need "
                "the same input shapes."
            )
        back = _match(out_names, m_out)
        back = list(range(len(shapes))) if back is None else back
        got = [m_shapes[back[o]] for o in range(len(shapes))]
        if got != shapes:
            raise ValueError(
                f"Invalid value received for argument `members`. {where} differ in their output "
                f"shapes (batch axis left out): {got} against {shapes}. An ensemble's members need "
                "the same output shape."
            )
        inputs.append(order)
        outputs.append(back)
    full = [(None, *s) for s, _ in specs]
    return _MembersIO([(f, d) for f, (_, d) in zip(full, specs)], in_names, shapes, out_names, agree, inputs, outputs)


def load_ensemble(path: str | os.PathLike, *, safe_mode: bool = True, compile: bool = True) -> Ensemble:
    """Load an ensemble written by `Ensemble.save`.

    Each member is loaded with `mcbridge.load_model` (Keras safe mode by
    default: no code stored in the file is run).

    Args:
        path: The file written by `Ensemble.save`.
        safe_mode: See `mcbridge.load_model`; pass False only for files you trust.
        compile: Restore each member's training configuration too.

    Returns:
        The `Ensemble`.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the file is not an mcbridge ensemble, or a member cannot
            be loaded (e.g. it holds code and `safe_mode` is True).
    """
    from mcbridge.models import load_model

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Ensemble file {path!r} does not exist.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"File {path!r} is not an mcbridge ensemble (not a zip file).")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        if _MANIFEST not in names:
            raise ValueError(f"File {path!r} is not an mcbridge ensemble (no {_MANIFEST}).")
        try:
            manifest = json.loads(zf.read(_MANIFEST))
        except ValueError as err:
            raise ValueError(f"The manifest of {path!r} is not valid JSON: {err}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            raise ValueError(f"File {path!r} is not an mcbridge ensemble (manifest format).")
        if manifest.get("format_version") != _FORMAT_VERSION:
            raise ValueError(
                f"Ensemble file {path!r} has format version "
                f"{manifest.get('format_version')!r}; this mcbridge reads version {_FORMAT_VERSION}."
            )
        k = manifest.get("k")
        expected = [_member_file(j) for j in range(k)] if isinstance(k, int) and k > 0 else None
        if expected is None or manifest.get("members") != expected or not set(expected) <= names:
            raise ValueError(f"Ensemble file {path!r} has a damaged manifest or missing members.")
        members = []
        with tempfile.TemporaryDirectory(prefix="mcbridge-ensemble-") as work:
            for name in expected:  # fixed names: nothing from the archive picks a path
                member_path = os.path.join(work, name)
                with zf.open(name) as src, open(member_path, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                members.append(load_model(member_path, safe_mode=safe_mode, compile=compile))
    return Ensemble(members, manifest.get("member_seeds"))


def _weights_digest(model: keras.Model) -> str:
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


def train_ensemble(
    build_fn: Callable[[], keras.Model],
    x,
    y,
    k: int = 5,
    epochs: int = 1,
    batch_size: int = 32,
    seed: int | None = None,
    progress: bool = True,
    **fit_kwargs,
) -> Ensemble:
    """Train a deep ensemble: `k` models built by `build_fn`, each fitted on `(x, y)`.

    Before member `j` is built and fitted, `keras.utils.set_random_seed` is
    called with a seed drawn for that member from `seed` (this sets Python's,
    NumPy's and the backend's global seeds), so the members start from
    different initial weights and see the data in a different order, and the
    same `seed` gives the same ensemble on the same machine.

    Args:
        build_fn: Called with no arguments; returns a new compiled
            `keras.Model` with fresh weights, e.g. `mcbridge.build_cnn` (its
            initialisers must not be fixed by a seed).
        x: Training inputs, as `model.fit` takes them.
        y: Training targets, as `model.fit` takes them.
        k: Number of members.
        epochs: Epochs per member.
        batch_size: Batch size of `fit`.
        seed: Non-negative integer for a reproducible ensemble, or None
            (member seeds drawn fresh; they are kept in `member_seeds`).
        progress: Print one line per member (time taken, final metrics).
        **fit_kwargs: Passed to `model.fit` (e.g. `validation_data`,
            `callbacks`); `verbose` defaults to 0.

    Returns:
        An `Ensemble` of the `k` trained models.

    Raises:
        ValueError: a bad argument, or `build_fn` returned a model already
            returned or with the same initial weights as an earlier member.
        TypeError: `build_fn` is not callable or returned no compiled
            `keras.Model`.
    """
    if not callable(build_fn):
        raise TypeError(
            "Invalid value received for argument `build_fn`. Expected a "
            f"function that returns a compiled keras.Model. Received: {type(build_fn).__name__}"
        )
    k = positive_int("k", k)
    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    seed = check_seed(seed)
    progress = check_bool("progress", progress)
    fit_kwargs.setdefault("verbose", 0)
    fit_kwargs.setdefault("shuffle", True)
    seeds = _member_seeds(seed, k)
    members: list[keras.Model] = []
    digests: dict[str, int] = {}
    for j, member_seed in enumerate(seeds):
        keras.utils.set_random_seed(member_seed)
        model = build_fn()
        if not isinstance(model, keras.Model):
            raise TypeError(
                "`build_fn` must return a keras.Model. Received: an object of "
                f"type {type(model).__name__}"
            )
        if not getattr(model, "compiled", False):
            raise TypeError(
                f"`build_fn` returned model {model.name!r} uncompiled. Call "
                "model.compile(optimizer=..., loss=...) inside build_fn."
            )
        if any(model is m for m in members):
            raise ValueError(
                f"`build_fn` returned the same model object for members {members.index(model) + 1} "
                f"and {j + 1}. It must build a new model on each call."
            )
        digest = _weights_digest(model)
        if digest in digests:
            raise ValueError(
                f"`build_fn` built member {j + 1} with the same initial weights as member "
                f"{digests[digest] + 1}: its initialisers are fixed by a seed, so the "
                "members would not differ by initialisation. Build without a fixed "
                "seed (e.g. mcbridge.build_cnn(seed=None))."
            )
        digests[digest] = j
        start = time.perf_counter()
        history = model.fit(x, y, epochs=epochs, batch_size=batch_size, **fit_kwargs)
        if progress:
            last = ", ".join(f"{name} {values[-1]:.4f}" for name, values in history.history.items() if values)
            print(
                f"Ensemble member {j + 1}/{k}: {epochs} epoch(s) in "
                f"{time.perf_counter() - start:.1f} s" + (f" ({last})" if last else ""),
                flush=True,
            )
        members.append(model)
    return Ensemble(members, seeds)


# --------------------------------------------------------------------------
# prediction


def _softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed in float64 (rows shifted by their max)."""
    z = z.astype(np.float64) - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def mc_predict_ensemble(
    model: Ensemble,
    x,
    n_samples: int = 1,
    batch_size: int = 128,
    seed: int | None = None,
    from_logits: bool = False,
    progress: bool | None = None,
    memory_budget: int | None = None,
    task: str = "classification",
    heteroscedastic: bool = False,
    precision: str = "float32",
) -> MCResult | list[MCResult]:
    """`mcbridge.mc_predict` on an `Ensemble`: every member's prediction as samples.

    With `n_samples=1` (the default here) each member predicts once,
    deterministically (its switch read as off), so members need no dropout.
    With `n_samples > 1` each member is sampled with MC dropout by
    `mcbridge.mc_predict` (members need dropout) with the seed
    `_member_seeds(seed, k)[j]` for member `j`, so an ensemble of one member
    gives the bits `mc_predict` gives that member with that seed.

    Args:
        model: The `Ensemble` of `k` members.
        x: Inputs, shape `(n, *input_shape)`; for members with several
            inputs a list of arrays (the first member's input order) or a
            dict by input name (when every member has the same input names),
            all with the same `n`.
        n_samples: Samples per member.
        batch_size: Inputs per call.
        seed: With `n_samples > 1`: non-negative integer for reproducible MC
            samples (member `j` gets its own seed drawn from it), or None.
        from_logits: Apply a softmax over the last axis of each sample.
            `task`, `from_logits` and `heteroscedastic` take one value for
            every output or a list of one per output (first member's order).
        progress: With `n_samples > 1`: show progress (one member at a time).
        memory_budget: With `n_samples > 1`: see `mcbridge.mc_predict`.
        task: `"classification"` (outputs are class probabilities) or
            `"regression"` (real-valued outputs).
        heteroscedastic: Regression only: each member's output holds `d`
            means then `d` log-variances on its last axis; the result holds
            the means as samples and the variances (`exp` of the
            log-variances) as `noise_variance`, as `mc_predict` does for one
            model.
        precision: `"float32"`, or with `n_samples > 1` `"bfloat16"` (see
            `mcbridge.mc_predict`); `n_samples=1` predicts in each member's
            own precision.

    Returns:
        An `MCResult` whose `samples` has shape `(n, *dims, classes,
        k * n_samples)` for a member output `(batch, *dims, classes)`, in
        member-major order: `samples[..., j * n_samples + s]` is sample `s`
        of member `j`. For members with several outputs, a list of them in
        the first member's output order.

    Raises:
        ValueError: a bad argument (checked before any member predicts:
            `x` that does not match the members' inputs, a list of tasks of
            the wrong length, a heteroscedastic output with an odd last
            axis); classification outputs that are not probabilities while
            `from_logits=False`; `n_samples > 1` on members without dropout.
        TypeError: an argument of the wrong type, or `x` is not numeric.
        MemoryError: the result cannot fit in memory (before allocating).
    """
    n_samples = positive_int("n_samples", n_samples)
    batch_size = positive_int("batch_size", batch_size)
    seed = check_seed(seed)
    if progress is not None:
        progress = check_bool("progress", progress)
    precision = check_precision(precision)
    if n_samples == 1 and precision != "float32":
        raise ValueError(
            f"precision={precision!r} applies to MC sampling (n_samples > 1): with n_samples=1 "
            "each member predicts once with its own model.predict(), in the model's precision. "
            "Pass precision='float32', or n_samples > 1."
        )
    sampling = {}  # for each member's mc_predict_model (n_samples > 1)
    if memory_budget is not None:
        sampling["memory_budget"] = check_int("memory_budget", memory_budget, maximum=INT64_MAX)
    io = model._io
    tasks = check_tasks(task, from_logits, heteroscedastic, len(io.shapes))
    k = len(model)
    first = model.members[0]
    names = io.input_names
    if isinstance(x, dict) and len(io.specs) > 1 and not io.names_agree:
        raise ValueError(
            "Invalid value received for argument `x`. The ensemble's members name their inputs "
            f"differently (member 1: {names}), so a dict cannot say which array feeds which input. "
            f"Pass a list of {len(io.specs)} arrays in member 1's input order."
        )
    xs = check_inputs(x, io.specs, names, rescales=has_rescaling(first))
    for name, shape, (t, _, hetero) in zip(io.output_names, io.shapes, tasks):
        if hetero and shape[-1] % 2:
            raise ValueError(
                f"Output {name!r} of the ensemble's members has shape (batch, {', '.join(map(str, shape))}); "
                "heteroscedastic=True needs an even number of entries on its last axis: d means, "
                "then d log-variances."
            )
    n = xs[0].shape[0]
    check_result_size(n, sum(int(np.prod(s)) for s in io.shapes), k * n_samples, shapes=io.shapes)
    if n_samples > 1:  # (what the CPU offers: after every argument check)
        sampling["precision"] = resolve_precision(precision)
    seeds = [None] * k if seed is None else _member_seeds(seed, k)
    outs = [None] * len(io.shapes)  # per output: samples (n, *dims, entries, k * n_samples), Fortran order
    noises = [None] * len(io.shapes)
    for j, member in enumerate(model.members):
        member_x = [xs[i] for i in io.inputs[j]]
        order = io.outputs[j]  # canonical output o is the member's output order[o]
        if n_samples == 1:
            preds = deterministic_outputs(member, member_x, batch_size)
            blocks = []
            for o, (t, logits, hetero) in enumerate(tasks):
                pred = preds[order[o]]
                if logits:
                    pred = _softmax(pred)
                elif t == "classification" and not logits:
                    try:
                        _check_classifier_block(np.moveaxis(pred, -1, 1))
                    except ValueError as err:
                        raise ValueError(f"Member {j + 1} ({member.name!r}): {err}") from None
                pred = pred[..., None]  # (n, *dims, entries, 1)
                if hetero:
                    d = pred.shape[-2] // 2
                    with np.errstate(over="ignore"):  # float32: a log-variance past ~88 gives inf
                        blocks.append((pred[..., :d, :], np.exp(pred[..., d:, :])))
                else:
                    blocks.append((pred, None))
        else:
            back = [order.index(i) for i in range(len(order))]  # the member's output i is canonical back[i]
            member_tasks = [tasks[back[i]] for i in range(len(order))]
            result = _member_mc(
                member, member_x if len(member_x) > 1 else member_x[0], n_samples=n_samples, batch_size=batch_size,
                seed=seeds[j], from_logits=[t[1] for t in member_tasks], progress=progress,
                task=[t[0] for t in member_tasks], heteroscedastic=[t[2] for t in member_tasks], **sampling,
            )
            results = result if isinstance(result, list) else [result]
            blocks = [(results[order[o]].samples, results[order[o]].noise_variance) for o in range(len(order))]
        for o, (block, noise) in enumerate(blocks):
            if outs[o] is None:
                outs[o] = np.empty((n, *block.shape[1:-1], k * n_samples), np.float32, order="F")
                if noise is not None:
                    noises[o] = np.empty_like(outs[o], order="F")
            outs[o][..., j * n_samples : (j + 1) * n_samples] = block
            if noise is not None:
                noises[o][..., j * n_samples : (j + 1) * n_samples] = noise
    results = [
        MCResult(out, task=t, noise_variance=noise) if hetero else MCResult(out, task=t)
        for out, noise, (t, _, hetero) in zip(outs, noises, tasks)
    ]
    return results[0] if len(results) == 1 else results


def _member_mc(member: keras.Model, x: np.ndarray, **kwargs) -> MCResult:
    """`mc_predict_model` of one member; a member without dropout is told what to do."""
    try:
        return mc_predict_model(member, x, **kwargs)
    except ValueError as err:
        if "no dropout" in str(err):
            raise ValueError(
                f"{err} (With n_samples > 1, mc_predict samples MC dropout inside each "
                "ensemble member; for a plain deep ensemble pass n_samples=1.)"
            ) from None
        raise
