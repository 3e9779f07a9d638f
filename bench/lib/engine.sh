# Sourced by bench/log-ingest and bench/log-storm: which of the bed's engines
# a bench runs against, ENGINE=podman (default; podman 4.3, which delivers no
# more than ~45k lines/s to any reader) or ENGINE=docker (the bed's Docker
# Engine 20.10, scripts/testbed-docker up; ~250k lines/s to curl).
# Needs $bed (the bed's dir) and the bed's env sourced. Sets:
#   engine     podman or docker
#   sock       the engine's API socket
#   docker     the docker CLI for it, as an array
#   engine_pids  a function printing the engine's pids (service, log copiers)
engine=${ENGINE:-podman}
case $engine in
  podman)
    sock=$OPSCOCKPIT_BED_DOCKER_SOCKET
    docker=(docker -H "unix://$sock")
    engine_pids() { pgrep -f "podman system service" || true; pgrep -f "conmon .* -n ${storm:-} " || true; } ;;
  docker)
    # shellcheck disable=SC1091
    source "$bed/docker/env" 2>/dev/null || { echo "ENGINE=docker needs scripts/testbed-docker up"; exit 1; }
    sock=$OPSCOCKPIT_BED_REAL_DOCKER_SOCKET
    docker=("$OPSCOCKPIT_BED_REAL_DOCKER_CLI" -H "unix://$sock")
    engine_pids() {
      pgrep -f "dockerd --host unix://$sock" || true
      pgrep -f "containerd --config $bed/docker" || true
      pgrep -f containerd-shim || true
    } ;;
  *) echo "ENGINE is podman or docker"; exit 1 ;;
esac
