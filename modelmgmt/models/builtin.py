"""Built-in plugin: the model types the registry can rebuild by name (no pickle)."""

from __future__ import annotations

from modelmgmt.hookspecs import hookimpl

BUILTIN_MODEL_TYPES = {
    "LinearRegression": "modelmgmt.models.linear:LinearRegression",
    "LogisticRegression": "modelmgmt.models.linear:LogisticRegression",
    "LinearSVM": "modelmgmt.models.linear:LinearSVM",
    "MLP": "modelmgmt.models.mlp:MLP",
    "Pipeline": "modelmgmt.models.pipeline:Pipeline",
    "StandardScaler": "modelmgmt.data.preprocessing:StandardScaler",
    "SimpleImputer": "modelmgmt.data.preprocessing:SimpleImputer",
    "OneHotEncoder": "modelmgmt.data.encoders:OneHotEncoder",
    "MinMaxScaler": "modelmgmt.data.encoders:MinMaxScaler",
    "Clipper": "modelmgmt.data.encoders:Clipper",
    "ColumnTransformer": "modelmgmt.data.compose:ColumnTransformer",
    "QuantizedModel": "modelmgmt.compress.quantize:QuantizedModel",
    "SparseModel": "modelmgmt.compress.sparse:SparseModel",
}


@hookimpl
def modelmgmt_register_model_types(register):
    for name, path in BUILTIN_MODEL_TYPES.items():
        register(name, path)
