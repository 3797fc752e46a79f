# The CPU Triton of the k8s `cpu` overlay: the reference models of models/ (PocketSphinx ASR,
# espeak-ng TTS, Apertium NMT, transliteration) in the tritonserver the nvidia-pytriton wheel
# bundles — what `make up` runs, as an image. Build after deploy/docker/Dockerfile:
#
#   docker build -t ai4vc:0.1.0 -f deploy/docker/Dockerfile .
#   docker build -t ai4vc-triton-cpu:0.1.0 --build-arg AI4VC_IMAGE=ai4vc:0.1.0 -f deploy/k8s/docker/triton-cpu.Dockerfile .
ARG AI4VC_IMAGE=ai4vc:0.1.0
FROM ${AI4VC_IMAGE}
USER root
# What the models read besides Python packages (deploy/local/bootstrap.sh installs the same):
# Apertium's Hindi–Urdu pair (nmt), the word lists that rank transliteration candidates.
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      apertium apertium-urd-hin aspell aspell-kn aspell-mr aspell-or aspell-pa aspell-ta aspell-te \
      hunspell-hi hunspell-bn hunspell-gu hunspell-ml hunspell-te \
    && rm -rf /var/lib/apt/lists/*
# The bundled tritonserver only (its Python client stack is not needed), as bootstrap.sh does.
RUN pip install --no-cache-dir --no-deps nvidia-pytriton==0.7.0
COPY models models
USER ai4vc
EXPOSE 8000 8001 8002
ENTRYPOINT ["python", "-m", "deploy.k8s.triton_cpu"]
