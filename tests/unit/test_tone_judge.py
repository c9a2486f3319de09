"""The tone check's eval judge (issue 12 §5): the rubric is sent as a forced tool call, its answer
refuses or accepts, a judge with no valid answer refuses, and the labelled cases grade both layers."""

from __future__ import annotations

from evals.tone_judge import TONE_CASES, TONE_RUBRIC, check_text, judge_text, run_tone_eval
from tests.fakes.llm import ScriptedLlm, ScriptedReply


def test_the_word_list_decides_its_cases_and_leaves_paraphrase_to_the_judge():
    report = run_tone_eval(None)
    assert report.ok, report.failed
    assert not report.live and report.judge_only == []
    missed = [c.text for c in TONE_CASES if not c.acceptable and not c.word_list_catches]
    assert missed and all(not check_text(t).words for t in missed)  # why the judge exists


def test_the_judge_gets_the_rubric_as_a_forced_tool_and_its_refusal_counts():
    llm = ScriptedLlm()
    llm.decision("score_tone", acceptable=False, personal_remarks=["great smile"], explanation="appearance")
    verdict = check_text("Chloe has a great smile and runs partnerships at Nimbus.", llm)
    assert verdict.words == [] and verdict.refused
    request = llm.requests[0]
    assert request.system == TONE_RUBRIC and request.force_tool == "score_tone"
    assert "great smile" in str(request.messages[0]["content"])


def test_a_judge_without_a_valid_answer_refuses_rather_than_passes():
    llm = ScriptedLlm(
        ScriptedReply(tool_uses=[("score_tone", {"acceptable": "maybe?", "personal_remarks": 3})])
    )
    result = judge_text(llm, "Ben leads data at Beta.")
    assert "error" in result
    assert check_text("Ben leads data at Beta.", ScriptedLlm(ScriptedReply(text="looks fine"))).refused


def test_a_live_run_grades_every_case_and_names_what_only_the_judge_caught():
    llm = ScriptedLlm()
    for case in TONE_CASES:
        llm.decision("score_tone", acceptable=case.acceptable, personal_remarks=[], explanation="")
    report = run_tone_eval(llm)
    assert report.ok and report.live, report.failed
    assert len(report.passed) == len(TONE_CASES)
    assert report.judge_only == [c.text for c in TONE_CASES if not c.acceptable and not c.word_list_catches]

    lenient = ScriptedLlm()
    for _ in TONE_CASES:
        lenient.decision("score_tone", acceptable=True)
    missed = run_tone_eval(lenient)
    assert not missed.ok
    assert {f["why"] for f in missed.failed} == {"judge"}
