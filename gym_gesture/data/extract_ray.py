"""`gym-gesture extract --ray ADDRESS`: the clips of an extraction run on the actors of a Ray cluster.

Each actor holds its own pose backend and runs `clips.clip_pose`, the per-clip step of a local run, on
one clip at a time; it returns the poses, and the driver (the process that runs `extract`) writes them:
nothing is written on the nodes, so `--out` needs no shared storage. The actors open the videos by
absolute path: the video folder must be at the same path on every node (a shared filesystem). An actor
that dies (a crash, a lost node) is restarted by Ray, which sends it its clip again; a clip on which its
actor died `MAX_TRIES` times is reported as failed instead of stalling the run.
"""

from __future__ import annotations

import dataclasses
from collections import deque

from ..core.errors import InputError, MissingExtraError
from .clips import ClipSource, clip_pose

try:
    import ray
except ImportError as error:
    raise MissingExtraError('extract --ray needs Ray: pip install "gym-gesture[ray]"') from error

# Backends whose actors each ask Ray for a GPU (MMPose runs on a CPU too, but at a fraction of the speed).
GPU_BACKENDS = frozenset({"mmpose"})
MAX_TRIES = 3


def connect(address: str) -> bool:
    """Join the Ray cluster at `address` (`local`: start one on this machine; `auto`: the one `ray start`
    runs here; `ray://HOST:10001`: a remote head); True when this call made the connection. A process that
    is already connected (`ray.init` by the caller) keeps its connection."""
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address)
    except ConnectionError as error:
        raise InputError(f"cannot connect to the Ray cluster at {address!r}: {error}") from error
    return True


class PoseWorker:
    """A Ray actor: one pose backend, loaded once, for the clips it is sent."""

    def __init__(self, backend_name: str):
        from ..pose import create_backend

        self.backend = create_backend(backend_name)

    def pose(self, clip: ClipSource, fps: float):
        return clip_pose(clip, self.backend, fps)


def _start_actors(backend: str, workers: int | None, count: int) -> list:
    resource = "GPU" if backend in GPU_BACKENDS else "CPU"
    if workers is None:
        workers = int(ray.cluster_resources().get(resource, 0))
        if workers == 0:
            raise InputError(f"the Ray cluster has no {resource} for the {backend} actors (one each); "
                             f"add one, or give --workers to wait for an autoscaler")
    # A dead actor is restarted without limit and Ray sends its clip again once it is back; a clip that
    # kills its actor every time ends after MAX_TRIES.
    options = {"num_cpus": 1, "num_gpus": 1 if resource == "GPU" else 0,
               "max_restarts": -1, "max_task_retries": MAX_TRIES - 1}
    actor_class = ray.remote(PoseWorker).options(**options)
    return [actor_class.remote(backend) for _ in range(min(workers, count))]


def run_on_ray(clips: list[ClipSource], backend: str, fps: float, workers: int | None, address: str):
    """(clip, poses, error) as clips finish on the cluster at `address`, like `extract._run_locally`.

    Connects and starts the actors at once (a wrong address is refused before any progress is shown);
    the results come as the returned iterator is read, and its end (or an interruption) lets them go.
    """
    connected = connect(address)
    try:
        actors = _start_actors(backend, workers, len(clips))
    except BaseException:
        if connected:
            ray.shutdown()
        raise
    return _results(actors, connected, clips, backend, fps)


def _results(actors: list, connected: bool, clips: list[ClipSource], backend: str, fps: float):
    try:
        yield from _dispatch(actors, clips, backend, fps)
    finally:
        for actor in actors:
            ray.kill(actor)
        if connected:
            ray.shutdown()


def _dispatch(actors: list, clips: list[ClipSource], backend: str, fps: float):
    """One clip at a time on each actor, the first once it is up (an actor that cannot be placed, on a full
    cluster or one waiting for an autoscaler, holds no clip), the next as soon as it answers."""
    queue, starting, busy = deque(clips), {actor.__ray_ready__.remote(): actor for actor in actors}, {}

    def send(actor) -> None:
        clip = queue.popleft()
        # The nodes do not share this process's working directory: they get the absolute path.
        on_node = dataclasses.replace(clip, path=clip.path.absolute())
        busy[actor.pose.remote(on_node, fps)] = (actor, clip)

    while queue or busy:
        [done], _ = ray.wait([*busy, *starting], num_returns=1)
        if done in starting:
            actor = starting.pop(done)
            try:
                ray.get(done)
            except ray.exceptions.RayActorError as died:  # e.g. the backend's extra missing on the nodes
                reason = str(died).strip().splitlines()[-1]
                raise InputError(f"the Ray actors could not start the {backend} pose backend: {reason}") from died
            if queue:
                send(actor)
            continue
        actor, clip = busy.pop(done)
        try:
            sequence, error = ray.get(done)
            # Reported with the path as the user gave it, as a local run reports it.
            result = (clip, sequence, error and error.replace(str(clip.path.absolute()), str(clip.path)))
        except ray.exceptions.RayActorError as died:
            reason = str(died).strip().splitlines()[0]
            result = (clip, None, f"{clip.path}: its Ray worker died {MAX_TRIES} times on it ({reason})")
        if queue:  # the actor's next clip before the driver writes this one
            send(actor)
        yield result
