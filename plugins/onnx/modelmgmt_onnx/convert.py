"""Build ONNX graphs for modelmgmt models from their public ``params`` and ``config``.

Every graph has one input ``X`` (float32 or float64, shape ``[N, n_features]``) and the
outputs the model has in OIP v2 metadata: ``predict`` for every model, ``predict_proba``
(a plain ``[N, k]`` tensor, no ZipMap) for classifiers. Operators are from the default
ONNX domain at opset :data:`OPSET`; nothing custom, so any ONNX runtime can load the file.

Quantized models keep their int8 codes as int8 initializers and dequantize them in the graph
(``Cast`` and ``Mul``, folded by onnxruntime when the session is created), so the file is
about a quarter of the float32 size and the maths is exactly ``(q - zero_point) * scale``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import modelmgmt as mm
from modelmgmt.errors import InvalidArgumentError

__all__ = ["OPSET", "to_onnx", "supported_types"]

#: the ONNX opset every exported graph declares (onnxruntime >= 1.14 runs it)
OPSET = 17

_ELEM = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}


class _Graph:
    """A tiny graph builder: constants, nodes and unique names."""

    def __init__(self, dtype: str) -> None:
        if dtype not in _ELEM:
            raise InvalidArgumentError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
        self.dtype = dtype
        self.elem = _ELEM[dtype]
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value: Any, hint: str = "c", *, keep_dtype: bool = False) -> str:
        """An initializer; float arrays take the graph's dtype unless ``keep_dtype``."""
        arr = np.asarray(value)
        if arr.dtype.kind == "f" and not keep_dtype:
            arr = arr.astype(self.dtype)
        elif arr.dtype.kind in "US":
            arr = arr.astype(object)
        name = self.name(hint)
        if arr.dtype == object:
            tensor = helper.make_tensor(name, TensorProto.STRING, arr.shape, [str(v).encode() for v in arr.ravel()])
        else:
            tensor = numpy_helper.from_array(np.ascontiguousarray(arr), name)
        self.initializers.append(tensor)
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


class _Params:
    """Where a converter reads a parameter: a float initializer, or int8 codes dequantized in-graph."""

    def __init__(self, g: _Graph, params: dict[str, np.ndarray], quantized: dict[str, Any] | None = None) -> None:
        self.g, self.params, self.quantized = g, params, quantized or {}

    def __getitem__(self, key: str) -> str:
        q = self.quantized.get(key)
        if q is None:
            return self.g.const(self.params[key], key.replace(".", "_"))
        g = self.g
        codes = g.op("Cast", [g.const(q["q"], key + "_q")], to=g.elem)
        if q.get("zero_point") is not None:
            codes = g.op("Sub", [codes, g.op("Cast", [g.const(q["zero_point"], key + "_zp")], to=g.elem)])
        return g.op("Mul", [codes, g.const(np.asarray(q["scale"], dtype=np.float64), key + "_scale")], key)


def _labels(g: _Graph, classes: np.ndarray, index: str) -> str:
    """``classes[index]``: labels of any dtype (numbers, strings, bools) as the model returns them."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        classes = classes.astype(np.int64)  # one integer label type: INT64
    return g.op("Gather", [g.const(classes, "classes", keep_dtype=True), index], "predict", axis=0)


def _linear_regression(g: _Graph, x: str, model: Any, p: _Params) -> dict[str, str]:
    out = g.op("MatMul", [x, p["W"]])
    if "b" in model.params:
        out = g.op("Add", [out, p["b"]])
    return {"predict": out}


def _softmax_head(g: _Graph, logits: str, classes: np.ndarray) -> dict[str, str]:
    proba = g.op("Softmax", [logits], "predict_proba", axis=1)
    index = g.op("ArgMax", [logits], axis=1, keepdims=0)
    return {"predict": _labels(g, classes, index), "predict_proba": proba}


def _logistic_regression(g: _Graph, x: str, model: Any, p: _Params) -> dict[str, str]:
    logits = g.op("Add", [g.op("MatMul", [x, p["W"]]), p["b"]])
    return _softmax_head(g, logits, model.classes_)


def _linear_svm(g: _Graph, x: str, model: Any, p: _Params) -> dict[str, str]:
    s = g.op("Add", [g.op("MatMul", [x, p["W"]]), p["b"]])  # (N,)
    p1 = g.op("Sigmoid", [s])
    p0 = g.op("Sub", [g.const(np.array(1.0)), p1])
    col = g.const(np.array([-1, 1], dtype=np.int64), "col", keep_dtype=True)
    proba = g.op("Concat", [g.op("Reshape", [p0, col]), g.op("Reshape", [p1, col])], "predict_proba", axis=1)
    index = g.op("Cast", [g.op("Greater", [s, g.const(np.array(0.0))])], to=TensorProto.INT64)
    return {"predict": _labels(g, model.classes_, index), "predict_proba": proba}


_ACTIVATIONS = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def _mlp(g: _Graph, x: str, model: Any, p: _Params) -> dict[str, str]:
    n_layers = len([k for k in model.params if k.endswith(".W")])
    act = _ACTIVATIONS[model.config["activation"]]
    h = x
    for i in range(n_layers):
        z = g.op("Add", [g.op("MatMul", [h, p[f"layers.{i}.W"]]), p[f"layers.{i}.b"]])
        h = z if i == n_layers - 1 else g.op(act, [z])
    return _softmax_head(g, h, model.classes_)


def _standard_scaler(g: _Graph, x: str, step: Any, p: _Params) -> str:
    return g.op("Div", [g.op("Sub", [x, p["mean"]]), p["scale"]])


def _simple_imputer(g: _Graph, x: str, step: Any, p: _Params) -> str:
    mv = step.config.get("missing_values")
    if mv is not None and not (isinstance(mv, float) and np.isnan(mv)) and mv != "nan":
        raise NotImplementedError(
            f"ONNX export of SimpleImputer supports missing_values=NaN only; this one has {mv!r}"
        )
    stats = np.asarray(step.params["statistics"])
    out = g.op("Where", [g.op("IsNaN", [x]), p["statistics"], x])
    keep = ~np.isnan(stats)
    if not keep.all():  # columns dropped in fit (no observed value)
        out = g.op("Gather", [out, g.const(np.flatnonzero(keep).astype(np.int64), "keep", keep_dtype=True)], axis=1)
    return out


def _clip(g: _Graph, x: str, lower: str, upper: str) -> str:
    """np.clip semantics, NaN kept: comparisons with NaN are false, so NaN passes through."""
    x = g.op("Where", [g.op("Less", [x, lower]), lower, x])
    return g.op("Where", [g.op("Greater", [x, upper]), upper, x])


def _min_max_scaler(g: _Graph, x: str, step: Any, p: _Params) -> str:
    out = g.op("Add", [g.op("Mul", [x, p["scale"]]), p["min"]])
    if step.config.get("clip"):
        lo, hi = step.config["feature_range"]
        out = _clip(g, out, g.const(np.array(lo, dtype=np.float64)), g.const(np.array(hi, dtype=np.float64)))
    return out


def _clipper(g: _Graph, x: str, step: Any, p: _Params) -> str:
    return _clip(g, x, p["lower"], p["upper"])


_MODELS: dict[str, Callable[..., dict[str, str]]] = {
    "LinearRegression": _linear_regression,
    "LogisticRegression": _logistic_regression,
    "LinearSVM": _linear_svm,
    "MLP": _mlp,
}
_STEPS: dict[str, Callable[..., str]] = {
    "StandardScaler": _standard_scaler,
    "SimpleImputer": _simple_imputer,
    "MinMaxScaler": _min_max_scaler,
    "Clipper": _clipper,
}


def supported_types() -> list[str]:
    """Model and pipeline-step type names this exporter converts (plus Pipeline and QuantizedModel)."""
    return sorted({*_MODELS, *_STEPS, "Pipeline", "QuantizedModel"})


def _class_name(obj: Any) -> str:
    for name in (*_MODELS, *_STEPS):
        cls = getattr(mm.models, name, None) or getattr(mm.data, name, None)
        if cls is not None and type(obj) is cls:
            return name
    return type(obj).__name__


def _quantized_parts(model: Any) -> tuple[Any, dict[str, Any]]:
    """The dequantized inner model (for its structure) and each quantized weight's codes."""
    cfg, params = model.config, model.params
    parts = {}
    for n in cfg["quantized"]:
        parts[n] = {"q": params[n + ".q"], "scale": params[n + ".scale"], "zero_point": params.get(n + ".zero_point")}
    return model.dequantize(), parts


def _emit_model(g: _Graph, x: str, model: Any) -> dict[str, str]:
    quantized: dict[str, Any] = {}
    if isinstance(model, mm.compress.QuantizedModel):
        model, quantized = _quantized_parts(model)
    kind = _class_name(model)
    if kind not in _MODELS:
        raise InvalidArgumentError(
            f"no ONNX converter for model type {kind!r}; supported: {', '.join(supported_types())}"
        )
    return _MODELS[kind](g, x, model, _Params(g, model.params, quantized))


def _n_features(model: Any) -> int:
    first = model.steps[0] if isinstance(model, mm.models.Pipeline) else model
    if isinstance(first, mm.compress.QuantizedModel):
        first = first.dequantize()
    n = getattr(first, "n_features_", None)
    if n is None:
        raise InvalidArgumentError(f"{type(model).__name__} does not record its number of features; is it fitted?")
    return int(n)


def to_onnx(model: Any, *, dtype: str = "float32") -> onnx.ModelProto:
    """The model as a checked ONNX ModelProto whose input ``X`` has ``dtype``."""
    if not isinstance(model, mm.Model):
        raise InvalidArgumentError(f"to_onnx expects a modelmgmt.Model; got {type(model).__name__}")
    if not model.is_fitted:
        raise mm.NotFittedError(f"{type(model).__name__} is not fitted; fit it before exporting")
    g = _Graph(dtype)
    x = "X"
    if isinstance(model, mm.models.Pipeline):
        for i, step in enumerate(model.steps[:-1]):
            kind = _class_name(step)
            if kind not in _STEPS:
                raise InvalidArgumentError(
                    f"no ONNX converter for pipeline step {i} of type {kind!r}; "
                    f"supported steps: {', '.join(sorted(_STEPS))}"
                )
            x = _STEPS[kind](g, x, step, _Params(g, step.params))
        outputs = _emit_model(g, x, model.steps[-1])
    else:
        outputs = _emit_model(g, x, model)
    graph_outputs = []
    for name, tensor in outputs.items():
        g.nodes.append(helper.make_node("Identity", [tensor], [name]))
        shape = ["N", len(model.classes_)] if name == "predict_proba" else ["N"]
        graph_outputs.append(helper.make_tensor_value_info(name, _output_elem(g, model, name), shape))
    graph = helper.make_graph(
        g.nodes, "modelmgmt", [helper.make_tensor_value_info("X", g.elem, ["N", _n_features(model)])],
        graph_outputs, g.initializers,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="modelmgmt", producer_version=mm.__version__)
    proto.ir_version = 8  # readable by onnxruntime >= 1.14
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _output_elem(g: _Graph, model: Any, name: str) -> int:
    if name == "predict_proba":
        return g.elem
    classes = getattr(model, "classes_", None)
    if name == "predict" and classes is not None and getattr(model, "is_classifier", False):
        kind = np.asarray(classes).dtype.kind
        return {"U": TensorProto.STRING, "S": TensorProto.STRING, "O": TensorProto.STRING,
                "f": TensorProto.DOUBLE}.get(kind, TensorProto.INT64)
    return g.elem
