"""tfpipe: raw tabular data -> validated tf.Example shards -> FeatureColumns -> Keras ensembles -> one SavedModel.

The repository keeps one top-level folder per concept (pipelines/, features/, ensembles/, serving/, proto/);
they install under the single import namespace ``tfpipe`` (``tfpipe.pipelines``, ``tfpipe.features``, ...), and
app/ (where the stages meet: the command, train, run, demo) is ``tfpipe`` itself. No folder of the checkout is
called ``tfpipe``, so a checkout on ``sys.path`` (``python -m ...`` run from it) never shadows the install.
"""
from setuptools import setup

SUBPACKAGES = ["pipelines", "features", "ensembles", "serving", "proto", "data", "examples"]

setup(
    name="tfpipe",
    version="0.1.0",
    description="TensorFlow tabular pipeline: Beam preprocessing, FeatureColumns on Keras 3, ensembles, one SavedModel.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=["tfpipe"] + [f"tfpipe.{name}" for name in SUBPACKAGES],
    package_dir={"tfpipe": "app", **{f"tfpipe.{name}": name for name in SUBPACKAGES}},
    package_data={"tfpipe.proto": ["*.proto"], "tfpipe.data": ["adult/*"], "tfpipe.examples": ["*.pbtxt"]},
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.10,<4",
        "apache-beam[tfrecord]>=2.77,<3",
        "google-crc32c>=1.5,<2",
        "tensorflow-datasets>=4.9.10,<4.10",
        "tensorflow-metadata>=1.17,<2",
        "protobuf>=6.31.1,<7",
        "pyarrow>=18,<26",
        "numpy>=1.26,<2.5",
        "pandas>=2.2,<4",
        "tqdm>=4.66,<5",
        "matplotlib>=3.8,<4",
        "tensorboard>=2.21,<2.22",
        "xgboost>=3.0,<4",   # gbdt members (CUDA build on Linux x86_64); brings scipy (stacking's meta-learner)
        "lightgbm>=4.5,<5",  # lgbm members (ensembles/lightgbm_members.py; dump_model JSON and CategoricalDecision of 4.x)
        "scipy>=1.11,<2",
        "psutil>=5.9,<8",    # --time-limit: the process start off Linux (tensorflow-datasets needs it too)
    ],
    extras_require={
        "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
        # data on object stores and other runners: Beam's own extras (pipelines/storage.py, runner_options.py)
        "aws": ["apache-beam[aws]>=2.77,<3"],
        "gcp": ["apache-beam[gcp]>=2.77,<3"],
        "azure": ["apache-beam[azure]>=2.77,<3"],
        "dask": ["apache-beam[dask]>=2.77,<3"],
        "test": ["pytest>=8,<10", "scikit-learn>=1.5,<2", "grpcio-tools>=1.76,<1.81", "hypothesis>=6.100,<7",
                 "apache-beam[aws,dask,gcp]>=2.77,<3", "moto[server]>=5.0,<6",
                 "gcp-storage-emulator>=2024.1,<2028"],
        "bench": ["scikit-learn>=1.5,<2", "psutil>=5.9"],
    },
    entry_points={"console_scripts": ["tfpipe=tfpipe.cli:main"]},
)
