# Triton on the GPU for deploy/compose/gpu.yaml: NVIDIA's NGC image as published, unchanged. It is
# a Dockerfile of its own (not a stage of ./Dockerfile) so that building the CPU deployment never
# pulls this ~15 GB image, and so that gpu.yaml's override of core.yaml's Triton `build` names an
# image of ours rather than re-tagging NGC's. The model repository is mounted at /models.
FROM nvcr.io/nvidia/tritonserver:24.10-py3 AS triton-gpu
EXPOSE 8000 8001 8002
ENTRYPOINT ["tritonserver", "--model-repository=/models"]
CMD ["--log-verbose=0", "--exit-timeout-secs=10"]
