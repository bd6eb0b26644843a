"""StageLog: seconds and peak RSS per named stage; nested stages pass their peak up."""
from tfpipe.ensembles.stages import StageLog, stage


def test_nested_stages_record_their_own_and_the_outer_peak():
    lines = []
    log = StageLog(log=lines.append)
    with log.stage("outer"):
        with log.stage("inner", "detail"):
            block = bytearray(300 << 20)
            block[::4096] = b"x" * len(block[::4096])     # touch every page: resident
            del block
        with log.stage("small"):
            pass
    inner, small, outer = log.records
    assert (inner["stage"], small["stage"], outer["stage"]) == ("inner", "small", "outer")
    assert inner["peak_rss_mb"] - inner["start_rss_mb"] > 250 and inner["detail"] == "detail"
    assert small["peak_rss_mb"] < inner["peak_rss_mb"] - 250        # its own peak, not the process's
    assert outer["peak_rss_mb"] >= inner["peak_rss_mb"]               # the inner peak counts for the outer stage
    assert inner["depth"] == 1 and outer["depth"] == 0 and len(lines) == 3 and "inner:" in lines[0]
    assert "| outer |" in log.table()
    with stage(None, "nothing") as record:     # no log: records nothing
        assert record == {}
