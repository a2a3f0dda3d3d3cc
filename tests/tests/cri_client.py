#!/usr/bin/env python3
"""A CRI client (the gRPC API kubelet speaks to containerd) for tests/tests/cri.rs.

Drives one pod through the lifecycle kubelet uses: RunPodSandbox, CreateContainer,
StartContainer, ExecSync, ContainerStatus, the container's log file, a second container that
exits by itself (then StopContainer on it), StopContainer, RemoveContainer, StopPodSandbox,
RemovePodSandbox (the exited container still in the pod); and reports what the runtime answered at
each step as one JSON object on stdout. The test asserts on that report; this script only
records (and, when a step fails, still tries to remove the pod and reports the error).

Uses the CRI v1 stubs of the PyPI package container-runtime-interface-api (grpcio).

Usage: cri_client.py SOCKET HANDLER NETWORK(host|cni) NAME CGROUP_PARENT IMAGE LOG_DIR
"""

import json
import sys
import time
import traceback

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

STATES = {
    cri.CONTAINER_CREATED: "CREATED",
    cri.CONTAINER_RUNNING: "RUNNING",
    cri.CONTAINER_EXITED: "EXITED",
    cri.CONTAINER_UNKNOWN: "UNKNOWN",
}
POD_STATES = {cri.SANDBOX_READY: "READY", cri.SANDBOX_NOTREADY: "NOTREADY"}

# The workload: a line to each stream, then wait for SIGTERM, log it and exit 0.
WORKLOAD = (
    "echo hello-from-cri; echo to-stderr >&2; "
    "trap 'echo got-sigterm; exit 0' TERM; "
    "while true; do sleep 1; done"
)


def read_log(path):
    """The CRI log file's lines as [stream, tag, text] (format: TIME STREAM TAG TEXT)."""
    lines = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 3)
            if len(parts) == 4:
                lines.append(parts[1:])
            else:
                lines.append(["?", "?", line.rstrip("\n")])
    return lines


def main():
    sock, handler, network, name, cgroup_parent, image, log_dir = sys.argv[1:8]
    channel = grpc.insecure_channel("unix://" + sock)
    rt = cri_grpc.RuntimeServiceStub(channel)
    report = {"steps": []}
    pod_id = None

    def step(label):
        report["steps"].append(label)

    try:
        report["version"] = rt.Version(cri.VersionRequest()).runtime_version

        ns_mode = cri.NODE if network == "host" else cri.POD
        pod_config = cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name=name, uid=name + "-uid", namespace="default"),
            # kubelet names only pods with their own network (host networking keeps the
            # host's UTS namespace, where a hostname cannot be set).
            hostname=name if network != "host" else "",
            log_directory=log_dir,
            linux=cri.LinuxPodSandboxConfig(
                cgroup_parent=cgroup_parent,
                security_context=cri.LinuxSandboxSecurityContext(
                    namespace_options=cri.NamespaceOption(network=ns_mode)
                ),
            ),
        )
        step("RunPodSandbox")
        pod_id = rt.RunPodSandbox(
            cri.RunPodSandboxRequest(config=pod_config, runtime_handler=handler)
        ).pod_sandbox_id
        report["pod_id"] = pod_id
        status = rt.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=pod_id)).status
        report["pod_state"] = POD_STATES.get(status.state, str(status.state))
        report["pod_ip"] = status.network.ip
        report["pod_runtime_handler"] = status.runtime_handler

        step("CreateContainer")
        ctr_config = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name="work"),
            image=cri.ImageSpec(image=image),
            command=["/bin/sh", "-c", WORKLOAD],
            log_path="work.log",
        )
        cid = rt.CreateContainer(
            cri.CreateContainerRequest(
                pod_sandbox_id=pod_id, config=ctr_config, sandbox_config=pod_config
            )
        ).container_id
        report["container_id"] = cid
        st = rt.ContainerStatus(cri.ContainerStatusRequest(container_id=cid)).status
        report["state_after_create"] = STATES.get(st.state, str(st.state))

        step("StartContainer")
        rt.StartContainer(cri.StartContainerRequest(container_id=cid))
        st = rt.ContainerStatus(cri.ContainerStatusRequest(container_id=cid)).status
        report["state_after_start"] = STATES.get(st.state, str(st.state))

        step("ExecSync")
        ex = rt.ExecSync(
            cri.ExecSyncRequest(
                container_id=cid,
                cmd=["/bin/sh", "-c", "echo exec-out; echo exec-err >&2; exit 3"],
                timeout=30,
            )
        )
        report["exec"] = {
            "exit_code": ex.exit_code,
            "stdout": ex.stdout.decode(errors="replace"),
            "stderr": ex.stderr.decode(errors="replace"),
        }
        ex = rt.ExecSync(
            cri.ExecSyncRequest(
                container_id=cid,
                cmd=["/bin/sh", "-c", "hostname; ip -4 -o addr show; cat /proc/1/cmdline"],
                timeout=30,
            )
        )
        report["exec_inside"] = {
            "exit_code": ex.exit_code,
            "stdout": ex.stdout.decode(errors="replace"),
        }

        step("ContainerStatus")
        st = rt.ContainerStatus(cri.ContainerStatusRequest(container_id=cid)).status
        report["status"] = {
            "state": STATES.get(st.state, str(st.state)),
            "name": st.metadata.name,
            "image": st.image.image,
            "log_path": st.log_path,
            "started": st.started_at > 0,
        }

        step("logs")
        # The two lines are written at start; give the shim's copier a moment to flush them.
        deadline = time.time() + 10
        while True:
            report["log_before_stop"] = read_log(st.log_path)
            if len(report["log_before_stop"]) >= 2 or time.time() > deadline:
                break
            time.sleep(0.2)

        # A container that exits by itself, as a Job's or an init container does: kubelet
        # still calls StopContainer on it, and StopPodSandbox / RemovePodSandbox with it in
        # the pod (the runtime is asked to kill a stopped container: issue 15, item 16).
        step("oneshot")
        one_config = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name="oneshot"),
            image=cri.ImageSpec(image=image),
            command=["/bin/sh", "-c", "echo oneshot-done; exit 7"],
            log_path="oneshot.log",
        )
        one = rt.CreateContainer(
            cri.CreateContainerRequest(
                pod_sandbox_id=pod_id, config=one_config, sandbox_config=pod_config
            )
        ).container_id
        report["oneshot_id"] = one
        rt.StartContainer(cri.StartContainerRequest(container_id=one))
        deadline = time.time() + 20
        while True:
            st = rt.ContainerStatus(cri.ContainerStatusRequest(container_id=one)).status
            if st.state == cri.CONTAINER_EXITED or time.time() > deadline:
                break
            time.sleep(0.2)
        report["oneshot"] = {
            "state": STATES.get(st.state, str(st.state)),
            "exit_code": st.exit_code,
            "reason": st.reason,
            "log": read_log(st.log_path),
        }
        rt.StopContainer(cri.StopContainerRequest(container_id=one, timeout=10))
        st = rt.ContainerStatus(cri.ContainerStatusRequest(container_id=one)).status
        report["oneshot"]["state_after_stop"] = STATES.get(st.state, str(st.state))

        step("StopContainer")
        rt.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=20))
        st = rt.ContainerStatus(cri.ContainerStatusRequest(container_id=cid)).status
        report["after_stop"] = {
            "state": STATES.get(st.state, str(st.state)),
            "exit_code": st.exit_code,
            "reason": st.reason,
        }
        report["log_after_stop"] = read_log(st.log_path)

        step("RemoveContainer")
        rt.RemoveContainer(cri.RemoveContainerRequest(container_id=cid))
        left = rt.ListContainers(cri.ListContainersRequest()).containers
        report["containers_after_remove"] = [c.metadata.name for c in left]

        step("StopPodSandbox")
        rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod_id))
        status = rt.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=pod_id)).status
        report["pod_state_after_stop"] = POD_STATES.get(status.state, str(status.state))

        step("RemovePodSandbox")
        rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod_id))
        pod_id = None
        left = rt.ListPodSandbox(cri.ListPodSandboxRequest()).items
        report["pods_after_remove"] = [p.id for p in left]
        left = rt.ListContainers(cri.ListContainersRequest()).containers
        report["containers_after_pod_remove"] = [c.id for c in left]
        step("done")
    except grpc.RpcError as e:
        report["error"] = f"{report['steps'][-1] if report['steps'] else 'connect'}: " \
            f"{e.code().name}: {e.details()}"
    except Exception:  # noqa: BLE001 - reported to the test, which fails on it
        report["error"] = traceback.format_exc()
    finally:
        if pod_id is not None:
            # A failed step: remove the pod anyway so that the test's leftover checks mean
            # something, and report whether that worked.
            try:
                rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod_id))
                rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod_id))
                report["cleanup"] = "removed"
            except grpc.RpcError as e:
                report["cleanup"] = f"{e.code().name}: {e.details()}"
    print(json.dumps(report))


if __name__ == "__main__":
    main()
