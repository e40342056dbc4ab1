"""The system prompt is the same for every run and worktree, so its cached prefix survives across runs."""

from samplerepo import CALC_TARGET, make_calc_repo, sample_config

from escalate.routing.first_request import first_request
from escalate.task import Task


def test_two_worktrees_send_the_same_system_prompt(tmp_path):
    task = Task.from_tests([CALC_TARGET])
    systems = []
    for name in ("one", "two"):
        root = make_calc_repo(tmp_path / name)
        request = first_request(task, root, {}, [CALC_TARGET], sample_config(root))
        assert str(root) not in request.system
        systems.append(request.system)
    assert systems[0] == systems[1] and "relative to the repository root" in systems[0]
