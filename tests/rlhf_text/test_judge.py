"""The gold judge and the degeneration measures: held-out data, new probe prompts, hand cases.

The judge is checked twice: on the embedded data's held-out rows (built without the held-out
questions, so their words are as new to it as a policy's), and on probe prompts written here,
none of them a question of the data, each with a good answer and six bad ones.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from envs.rewards.text import build_text_reward, evaluate_reward
from envs.rewards.text_base import TextReward
from rlhf_text import default_data
from rlhf_text.data import DataConfig, load_preference_data
from rlhf_text.default_data import (
    EVASIONS,
    RAMBLE_OPENERS,
    SUBJECT_CHANGES,
    all_questions,
    embedded_rows,
    format_prompt,
)
from rlhf_text.degeneration import (
    OverOptimisationMonitor,
    degeneration_stats,
    distinct_n,
    looks_looping,
    repeated_ngram_rates,
)
from rlhf_text.judge import GoldJudge, win_rate

BAD_KINDS = ("loop", "stuck", "evasion", "filler", "off_topic", "cut_off")
"""loop: a phrase looped; stuck: a good start that then repeats a phrase; evasion: no answer;
filler: generic words that fit any question; off_topic: a fluent answer to another question;
cut_off: a good answer that stops mid-sentence."""

# The first batch guided the judge's one later term (``specific``, for generic filler); the
# second batch was written after every weight was fixed and has never been tuned on.
PROBES_FIRST = (
    (
        "How do I keep my phone battery healthy?",
        {
            "good": (
                "Keep the charge between about 20 and 80 percent when you can, avoid leaving the "
                "phone in a hot car, and use a decent charger."
            ),
            "loop": "Battery battery battery battery battery battery battery battery.",
            "stuck": (
                "Avoid heat and keep the charge between 20 and 80 percent, and keep the charge, "
                "and keep the charge, and keep the charge, and keep the charge."
            ),
            "evasion": "I'm not sure, honestly. Maybe ask someone at the phone store.",
            "filler": "That is a great question! There are many things to consider.",
            "off_topic": (
                "Whisk two eggs with a splash of milk, pour them into a buttered pan over low "
                "heat, and stir gently until they just set."
            ),
            "cut_off": (
                "Keep the charge between about 20 and 80 percent when you can, and avoid leaving "
                "the phone in a hot"
            ),
        },
    ),
    (
        "What should I pack for a weekend camping trip?",
        {
            "good": (
                "Bring a tent, a sleeping bag and pad, warm layers, a rain jacket, a headlamp, "
                "water, easy food, and a small first aid kit."
            ),
            "loop": (
                "You should pack you should pack you should pack you should pack you should pack."
            ),
            "stuck": (
                "For a weekend camping trip, bring a tent and a sleeping bag and a sleeping bag "
                "and a sleeping bag and a sleeping bag."
            ),
            "evasion": "Hmm, that's a tough one. I don't really know much about camping.",
            "filler": (
                "It really depends on a lot of things, and everyone is different, so just do what"
                " feels right for you."
            ),
            "off_topic": (
                "Compound interest means you earn interest on your past interest, so savings grow"
                " faster the longer you leave them alone."
            ),
            "cut_off": "Bring a tent, a sleeping bag, warm layers, a rain jacket and a",
        },
    ),
    (
        "How do I keep cut flowers fresh in a vase?",
        {
            "good": (
                "Trim the stems at an angle, remove leaves below the water line, and change the "
                "water every two days."
            ),
            "loop": (
                "Fresh flowers are fresh flowers are fresh flowers are fresh flowers are fresh "
                "flowers."
            ),
            "stuck": (
                "Trim the stems at an angle and change the water, change the water, change the "
                "water, change the water, change the water."
            ),
            "evasion": "Sorry, I can't help with that. Do you have any other questions?",
            "filler": (
                "Good question. It is important to think about it carefully and do what works "
                "best for you."
            ),
            "off_topic": (
                "To jump start a car, connect the red cable to both positive terminals, the black"
                " cable to a bare metal part, and start the working car first."
            ),
            "cut_off": (
                "To keep cut flowers fresh, trim the stems at an angle, remove the leaves below the"
            ),
        },
    ),
    (
        "Why does bread go stale?",
        {
            "good": (
                "As bread cools and sits, its starch slowly recrystallizes and pushes out water, "
                "so the crumb turns firm and dry even in a bag."
            ),
            "loop": (
                "Bread goes stale because bread goes stale because bread goes stale because bread"
                " goes stale."
            ),
            "stuck": (
                "The starch in bread slowly changes and loses water, and loses water, and loses "
                "water, and loses water, and loses water."
            ),
            "evasion": "Who knows? I don't know much about baking.",
            "filler": (
                "That is a really interesting question, and there are many different opinions "
                "about it."
            ),
            "off_topic": (
                "A good cover letter names the job, gives two concrete examples of your work, and"
                " fits on one page."
            ),
            "cut_off": "As bread sits, its starch slowly recrystallizes and pushes out",
        },
    ),
    (
        "How do I get candle wax out of a tablecloth?",
        {
            "good": (
                "Scrape off what you can, then lay a paper towel over the wax and press it with a"
                " warm iron so the towel soaks it up."
            ),
            "loop": "Wax wax wax. Wax wax wax. Wax wax wax. Wax wax wax.",
            "stuck": (
                "Scrape off the wax, then put a paper towel over it and iron it and iron it and "
                "iron it and iron it and iron it."
            ),
            "evasion": "Why do you want to know? Let's talk about something else.",
            "filler": (
                "There are lots of ways to do this. It depends on your situation and what you "
                "prefer."
            ),
            "off_topic": (
                "Plant tomatoes in full sun after the last frost and water them deeply at the "
                "base twice a week."
            ),
            "cut_off": "Scrape off what you can, then lay a paper towel over the wax and press it",
        },
    ),
    (
        "How do I fix a flat tire on my bike?",
        {
            "good": (
                "Take the wheel off, lever out the tube, find the hole, and either patch it or "
                "fit a new tube before pumping the tire back up."
            ),
            "loop": "Fix the tire, fix the tire, fix the tire, fix the tire, fix the tire.",
            "stuck": (
                "Take the wheel off and pull out the tube, then pump it up, pump it up, pump it "
                "up, pump it up."
            ),
            "evasion": "I would rather not say. Maybe look it up online.",
            "filler": (
                "That is a great question! It is always good to learn new things and try your best."
            ),
            "off_topic": (
                "Hiccups usually stop on their own, but sipping cold water slowly or holding your"
                " breath for a few seconds often helps."
            ),
            "cut_off": "Take the wheel off, lever out the tube, find the hole, and",
        },
    ),
    (
        "How do I teach my dog to stop pulling on the leash?",
        {
            "good": (
                "Stop walking whenever the leash goes tight and only move on when it is loose, "
                "and reward your dog with treats for walking beside you."
            ),
            "loop": "Good dog good dog good dog good dog good dog good dog good dog.",
            "stuck": (
                "Stop walking when the leash is tight and reward your dog with treats, with "
                "treats, with treats, with treats, with treats."
            ),
            "evasion": "I don't know. Maybe. Maybe not. It is hard to say.",
            "filler": (
                "Every situation is unique, so there is no single answer. You should keep trying "
                "and stay positive."
            ),
            "off_topic": (
                "A sourdough starter is flour and water fermented by wild yeast and bacteria, "
                "used instead of packaged yeast to raise bread."
            ),
            "cut_off": "Stop walking whenever the leash goes tight, and reward your dog with",
        },
    ),
    (
        "How do I write a good cover letter?",
        {
            "good": (
                "Address it to a person if you can, say which job you want, and give two short "
                "examples of results that match what they need."
            ),
            "loop": "Dear sir dear sir dear sir dear sir dear sir dear sir.",
            "stuck": (
                "Say which job you want and why you are a good fit, a good fit, a good fit, a "
                "good fit, a good fit."
            ),
            "evasion": "That is a hard one. I am not sure about that.",
            "filler": "That is a great question! There are many things to consider.",
            "off_topic": (
                "Defrost a freezer by unplugging it, putting towels on the floor, and leaving the"
                " door open with a bowl of hot water inside."
            ),
            "cut_off": (
                "Address it to a person if you can, say which job you want, and give two short "
                "examples of results that"
            ),
        },
    ),
    (
        "How can I learn to juggle?",
        {
            "good": (
                "Start with one ball tossed from hand to hand at eye level, add a second ball, "
                "and practice three balls over a bed so drops are easy to pick up."
            ),
            "loop": (
                "Toss and catch, toss and catch, toss and catch, toss and catch, toss and catch."
            ),
            "stuck": (
                "Start with one ball and toss it from hand to hand, hand to hand, hand to hand, "
                "hand to hand, hand to hand."
            ),
            "evasion": "I can't answer that. Have you ever been to the beach?",
            "filler": "Learning anything takes time, so be patient with yourself and keep going.",
            "off_topic": (
                "Change your passwords regularly and use a password manager so every account gets"
                " a long, unique password."
            ),
            "cut_off": "Start with one ball tossed from hand to hand at eye level, then add a",
        },
    ),
    (
        "What is a sourdough starter?",
        {
            "good": (
                "It is a mix of flour and water fermented by wild yeast and bacteria, kept alive "
                "with regular feedings and used to make bread rise."
            ),
            "loop": "A starter is a starter is a starter is a starter is a starter.",
            "stuck": (
                "A sourdough starter is flour and water that ferments and ferments and ferments "
                "and ferments and ferments."
            ),
            "evasion": "I forgot. Can you ask me again later?",
            "filler": "That is a great question, and many people wonder about the same thing.",
            "off_topic": (
                "Pack a tent, a sleeping bag, warm layers and a headlamp, and check the weather "
                "forecast before you leave."
            ),
            "cut_off": "It is a mix of flour and water fermented by wild yeast and",
        },
    ),
    (
        "How do I defrost a freezer?",
        {
            "good": (
                "Empty and unplug it, leave the door open with towels on the floor, and set a "
                "bowl of hot water inside to speed up the melting."
            ),
            "loop": "Ice ice ice ice ice ice ice ice ice ice.",
            "stuck": (
                "Unplug the freezer and open the door and wait, and wait, and wait, and wait, and"
                " wait."
            ),
            "evasion": "You can look it up somewhere. I don't know much about freezers.",
            "filler": "That depends on many things, and there is no right or wrong way to do it.",
            "off_topic": (
                "Most cats purr when they are relaxed, but they also purr to calm themselves when"
                " they are hurt or stressed."
            ),
            "cut_off": "Empty and unplug it, leave the door open with towels on the",
        },
    ),
    (
        "How do I get rid of hiccups?",
        {
            "good": (
                "Sip a glass of cold water slowly or hold your breath for ten seconds; most "
                "hiccups stop on their own within a few minutes."
            ),
            "loop": "Hic hic hic hic hic hic hic hic hic hic hic.",
            "stuck": (
                "Try sipping cold water slowly or holding your breath, your breath, your breath, "
                "your breath, your breath."
            ),
            "evasion": "Good question! I don't know. Do you like movies?",
            "filler": (
                "There are many things you can try, and what works for one person may not work "
                "for another."
            ),
            "off_topic": (
                "Put the bike in its lowest gear, keep your weight over the pedals, and pedal "
                "steadily up the hill without standing."
            ),
            "cut_off": "Sip a glass of cold water slowly or hold your breath for",
        },
    ),
    (
        "How should I treat a mild sunburn?",
        {
            "good": (
                "Cool the skin with a damp cloth or a cool shower, put on aloe vera gel, drink "
                "plenty of water, and keep out of the sun while it heals."
            ),
            "loop": "Sunburn hurts sunburn hurts sunburn hurts sunburn hurts sunburn hurts.",
            "stuck": (
                "Cool the skin with a cool shower and put on aloe vera, aloe vera, aloe vera, "
                "aloe vera, aloe vera."
            ),
            "evasion": "It depends. Some people say one thing and some people say another.",
            "filler": (
                "That is a great question! Health is very important, so take good care of yourself."
            ),
            "off_topic": (
                "Rinse one cup of rice, add two cups of water, and simmer it covered for eighteen"
                " minutes."
            ),
            "cut_off": (
                "Cool the skin with a damp cloth or a cool shower, put on aloe vera gel, and keep"
            ),
        },
    ),
    (
        "How do I choose a strong password?",
        {
            "good": (
                "Use a long passphrase of four or more random words, never reuse it on another "
                "site, and keep it in a password manager."
            ),
            "loop": "Passwordddddddddddddddddddd.",
            "stuck": (
                "Use a long passphrase of random words and never reuse it, never reuse it, never "
                "reuse it, never reuse it."
            ),
            "evasion": "I'd rather not say. I'm not sure about that.",
            "filler": (
                "Security is a big topic and there are many things to think about, so it is good "
                "that you are asking."
            ),
            "off_topic": (
                "Water houseplants when the top inch of soil is dry, and give them bright, "
                "indirect light."
            ),
            "cut_off": (
                "Use a long passphrase of four or more random words, never reuse it on another"
            ),
        },
    ),
)

PROBES_SECOND = (
    (
        "How do I fix a stuck zipper?",
        {
            "good": (
                "Rub a pencil tip or a bit of bar soap along the teeth near the slider, then work"
                " the slider gently back and forth until it moves."
            ),
            "loop": "Zip it up zip it up zip it up zip it up zip it up.",
            "stuck": (
                "Rub a pencil along the teeth and then pull gently, pull gently, pull gently, "
                "pull gently, pull gently."
            ),
            "evasion": "I'm not really sure. You should ask someone else.",
            "filler": "That is a great question! There are many things to consider.",
            "off_topic": (
                "Boil the pasta in plenty of salted water, stir it in the first two minutes, and "
                "drain it just before it is soft."
            ),
            "cut_off": "Rub a pencil tip or a bit of bar soap along the teeth near the",
        },
    ),
    (
        "How do I remove a splinter?",
        {
            "good": (
                "Wash the area, then use clean tweezers to pull the splinter out at the same "
                "angle it went in, and cover the spot with a bandage."
            ),
            "loop": "Ouch ouch ouch ouch ouch ouch ouch ouch ouch.",
            "stuck": (
                "Wash your hands and the skin, then use tweezers to pull it out, pull it out, "
                "pull it out, pull it out."
            ),
            "evasion": "Hmm, I don't know. That is a hard one.",
            "filler": (
                "Everyone has their own way of doing it, so it is up to you to decide what is best."
            ),
            "off_topic": (
                "A mortgage is a loan for buying a home, paid back monthly with interest over "
                "fifteen to thirty years."
            ),
            "cut_off": (
                "Wash the area, then use clean tweezers to pull the splinter out at the same "
                "angle it"
            ),
        },
    ),
    (
        "How do I keep my glasses from fogging up when I wear a mask?",
        {
            "good": (
                "Pinch the mask's nose wire so it fits snugly, pull the mask up under your "
                "glasses, and wipe the lenses with a drop of dish soap."
            ),
            "loop": "Fog fog fog fog fog fog fog fog fog fog.",
            "stuck": (
                "Make the mask fit tightly over your nose, over your nose, over your nose, over "
                "your nose, over your nose."
            ),
            "evasion": "Sorry, I can't help with that. What did you do this weekend?",
            "filler": (
                "This is a common problem that a lot of people have, and there are different ways"
                " to handle it."
            ),
            "off_topic": (
                "Guitar strings should be changed every few months, or sooner if they sound dull "
                "or feel rough."
            ),
            "cut_off": (
                "Pinch the mask's nose wire so it fits snugly, and pull the mask up under your"
            ),
        },
    ),
    (
        "How can I make my slow wifi faster?",
        {
            "good": (
                "Move the router to a central, open spot, restart it, and switch to the 5 GHz "
                "band if your devices are close enough."
            ),
            "loop": "Faster faster faster faster faster faster faster faster faster.",
            "stuck": (
                "Restart the router and move it to a better spot, a better spot, a better spot, a"
                " better spot, a better spot."
            ),
            "evasion": "It is hard to say. Nobody really knows that.",
            "filler": (
                "Technology can be tricky sometimes, but with a little patience you can figure it"
                " out."
            ),
            "off_topic": "Feed adult cats twice a day and keep fresh water out all the time.",
            "cut_off": "Move the router to a central, open spot, restart it, and switch to the",
        },
    ),
    (
        "How do I get rid of a bad smell in my shoes?",
        {
            "good": (
                "Sprinkle baking soda inside the shoes overnight, let them dry fully between "
                "wears, and wash the insoles if they come out."
            ),
            "loop": "Smelly shoes smelly shoes smelly shoes smelly shoes smelly shoes.",
            "stuck": (
                "Put baking soda in the shoes and let them dry out, dry out, dry out, dry out, "
                "dry out."
            ),
            "evasion": "I don't know. I had a sandwich for lunch today.",
            "filler": (
                "Good question. It is important to think about it carefully and do what works "
                "best for you."
            ),
            "off_topic": (
                "The sky looks blue because air scatters blue sunlight more strongly than red "
                "light."
            ),
            "cut_off": (
                "Sprinkle baking soda inside the shoes overnight, and let them dry fully between"
            ),
        },
    ),
    (
        "How do I get rust off garden tools?",
        {
            "good": (
                "Soak the tools in white vinegar overnight, scrub the rust off with steel wool, "
                "then dry them and wipe on a thin coat of oil."
            ),
            "loop": "Rust rust rust rust rust rust rust rust rust.",
            "stuck": (
                "Soak them in vinegar and scrub with steel wool, steel wool, steel wool, steel "
                "wool, steel wool."
            ),
            "evasion": "Why do you want to know? I would rather not say.",
            "filler": (
                "There are many ways to approach this, and the right one depends on your situation."
            ),
            "off_topic": (
                "A good warm up is five minutes of light jogging followed by leg swings and arm "
                "circles."
            ),
            "cut_off": "Soak the tools in white vinegar overnight, scrub the rust off with steel",
        },
    ),
)


@pytest.fixture(scope="module")
def held_out() -> tuple[list, list[dict[str, str]]]:
    """The held-out pairs of the default split, with their embedded rows (topic, kind)."""
    data = load_preference_data(DataConfig())
    rows = {(r["prompt"], r["chosen"], r["rejected"]): r for r in embedded_rows(0)}
    return data.eval, [rows[(p.prompt, p.chosen, p.rejected)] for p in data.eval]


@pytest.fixture(scope="module")
def unseen_judge(held_out) -> GoldJudge:
    """A judge built without the held-out questions: their words are new to it."""
    held_ids = {row["question_id"] for row in held_out[1]}
    return GoldJudge([q for q in all_questions() if q.question_id not in held_ids])


@pytest.fixture(scope="module")
def judge() -> GoldJudge:
    return GoldJudge()


def _accuracy_by_kind(judge, pairs, kinds, rejected=None) -> dict[str, float]:
    prompts = [pair.prompt for pair in pairs]
    rejected = [pair.rejected for pair in pairs] if rejected is None else rejected
    better = judge.score(prompts, [p.chosen for p in pairs]) > judge.score(prompts, rejected)
    result = {"all": float(better.mean())}
    for kind in sorted(set(kinds)):
        result[kind] = float(better[[k == kind for k in kinds]].mean())
    return result


@pytest.mark.parametrize("which", ["unseen_judge", "judge"])
def test_judge_prefers_chosen_on_held_out_rows(request, held_out, which):
    pairs, rows = held_out
    accuracy = _accuracy_by_kind(
        request.getfixturevalue(which), pairs, [r["rejected_kind"] for r in rows]
    )
    assert len(pairs) == 416 and set(accuracy) == {"all", "repetitive", "evasive", "off_topic"}
    assert accuracy["all"] >= 0.95, accuracy
    assert min(accuracy.values()) >= 0.9, accuracy


def test_topic_terms_catch_off_topic_answers_without_their_openers(held_out, unseen_judge):
    """Most off-topic rows open with a RAMBLE_OPENER, which the evasion term knows; with the
    opener cut off, only the topic terms can tell the chosen answer from the other topic's."""
    openers = sorted((o.strip() for o in RAMBLE_OPENERS if o.strip()), key=len, reverse=True)

    def cut(text: str) -> str:
        text = text.strip()
        for opener in openers:
            text = text.removeprefix(opener)
        return " " + text.strip()

    pairs = [p for p, r in zip(*held_out, strict=True) if r["rejected_kind"] == "off_topic"]
    stripped = [cut(p.rejected) for p in pairs]
    assert sum(s != p.rejected for s, p in zip(stripped, pairs, strict=True)) > len(pairs) / 2
    accuracy = _accuracy_by_kind(unseen_judge, pairs, ["off_topic"] * len(pairs), stripped)
    assert accuracy["all"] >= 0.85, accuracy


def test_probe_prompts_are_new():
    asked = {p.lower() for q in all_questions() for p in q.phrasings}
    probes = PROBES_FIRST + PROBES_SECOND
    assert len(probes) >= 12
    for question, answers in probes:
        assert question.lower() not in asked, question
        assert tuple(answers) == ("good", *BAD_KINDS), question


def test_judge_ranks_good_answers_above_probe_bad_answers(judge):
    """Good beats every bad kind on new prompts, overall >= 0.9 (measured 113 of 120).

    Loops, stuck loops and evasions are always caught and filler nearly always. Off-topic
    answers are the weak spot: when the good answer shares no word with a prompt whose words
    the data never uses ("stuck zipper" -> "rub a pencil along the teeth"), the good and the
    off-topic answer tie, so only >= 0.7 is asserted (15 of 20 measured). A cut-off answer
    is caught by its missing sentence end (asserted for every one), but an answer cut right
    after a full stop looks finished and is not; and a cut-off answer that restates the
    question can still outscore a good one that does not (1 of 20).
    """
    better: dict[str, list[bool]] = {kind: [] for kind in BAD_KINDS}
    for question, answers in PROBES_FIRST + PROBES_SECOND:
        prompts = [format_prompt(question)] * len(answers)
        scores = dict(zip(answers, judge.score(prompts, list(answers.values())), strict=True))
        terms = judge.score_terms(prompts, list(answers.values()))
        assert terms["incomplete"].tolist() == [0, 0, 0, 0, 0, 0, 1], question
        for kind in BAD_KINDS:
            better[kind].append(bool(scores["good"] > scores[kind]))
    rates = {kind: float(np.mean(flags)) for kind, flags in better.items()}
    overall = float(np.mean([flag for flags in better.values() for flag in flags]))
    assert overall >= 0.9, rates
    assert rates["loop"] == rates["stuck"] == rates["evasion"] == 1.0, rates
    assert rates["filler"] >= 0.9 and rates["cut_off"] >= 0.9, rates
    assert rates["off_topic"] >= 0.7, rates


def test_gold_judge_is_a_text_reward(judge):
    prompts = [format_prompt("How do I boil an egg?")] * 2
    responses = [" Boil the egg for nine minutes, then cool it in cold water.", " I don't know."]
    assert isinstance(judge, TextReward)
    total, terms = evaluate_reward(judge, prompts, responses)
    assert total.dtype == np.float64 and total.shape == (2,) and total[0] > total[1]
    assert terms == {"gold_judge": pytest.approx(total)}
    assert isinstance(build_text_reward("rlhf_text.judge:GoldJudge"), GoldJudge)
    named = judge.score_terms(prompts, responses)
    weighted = sum(weight * named[name] for name, weight in judge.weights.items())
    np.testing.assert_allclose(weighted, total)


def test_length_range_is_the_documented_one(judge):
    """default_data's docstring says chosen answers are 11-35 words; the judge derives it."""
    assert "chosen answers 11-35 words" in " ".join(default_data.__doc__.split())
    assert (judge.min_words, judge.max_words) == (11, 35)
    lengths = [len(r["chosen"].split()) for r in embedded_rows(0)]
    assert (min(lengths), max(lengths)) == (11, 35)


def test_length_outside_the_range_costs_per_word(judge):
    prompt = format_prompt("How do I boil an egg?")
    good = " Put the egg in boiling water for about nine minutes, then cool it in cold water."
    ramble = good + " Eggs are eggs and boiling water boils, as every cook knows by now." * 3
    responses = [good, " Boil it.", ramble]
    length = judge.score_terms([prompt] * 3, responses)["length"]
    np.testing.assert_array_equal(length, [0, 11 - 2, len(ramble.split()) - 35])
    assert judge.score([prompt], [good])[0] > judge.score([prompt], [" Boil it."])[0]


def test_every_generator_evasion_is_flagged_and_no_chosen_answer_is(judge):
    evasions = [
        e.format(about="your pets", change=change) for e in EVASIONS for change in SUBJECT_CHANGES
    ]
    prompts = [format_prompt("How do I trim my cat's claws?")] * len(evasions)
    assert judge.score_terms(prompts, evasions)["evasion"].min() > 0
    chosen = sorted({row["chosen"] for row in embedded_rows(0)})
    assert judge.score_terms([""] * len(chosen), chosen)["evasion"].max() == 0


def test_win_rate_counts_ties_as_half(judge):
    prompts = [format_prompt("How do I boil an egg?")] * 3
    good = " Put the egg in boiling water for nine minutes, then cool it in cold water."
    loop = " Boil boil boil boil boil boil boil boil."
    result = win_rate(judge, prompts, [good, good, loop], [loop, good, good])
    assert result == {
        "judge/win_rate": 0.5,
        "judge/wins": 1.0,
        "judge/ties": 1.0,
        "judge/losses": 1.0,
        "judge/count": 3.0,
    }
    assert win_rate(judge, prompts[:1], [good], [loop])["judge/win_rate"] == 1.0
    with pytest.raises(ValueError, match="n >= 1"):
        win_rate(judge, prompts, [good], [loop])


def test_distinct_n_is_distinct_ngrams_over_all_words():
    batch = ["The cat sat.", "the dog sat"]  # 6 words; 4 distinct unigrams; 4 bigrams
    assert distinct_n(batch, 1) == pytest.approx(4 / 6)
    assert distinct_n(["a a a a"], 1) == pytest.approx(1 / 4)
    assert distinct_n(["a a a a", "b c"], 2) == pytest.approx(2 / 6)  # "a a", "b c"
    stats = degeneration_stats(batch)
    assert stats["degeneration/distinct_1"] == pytest.approx(4 / 6)
    assert stats["degeneration/distinct_2"] == pytest.approx(4 / 6)


def test_repeated_ngram_rate_ignores_case_and_punctuation():
    # trigrams: abc, bca, cab, abc -> one of four repeats an earlier one
    rates = repeated_ngram_rates(["A b c. a B c", "x y z"])
    np.testing.assert_allclose(rates, [0.25, 0.0])
    stats = degeneration_stats(["A b c. a B c", "x y z"])
    assert stats["degeneration/repeated_ngram_rate"] == pytest.approx(0.125)


@pytest.mark.parametrize(
    "text",
    [
        "A layover is a layover is a layover is a layover.",
        "Rinse the rice and add water, add water, add water, add water.",
        "ncccccccccccc",
        "Sure! hahahahahaha",
        "very very very very good",
        "Mix it well. Then stir it well. Mix it well. Then stir it well. Mix it well.",
    ],
)
def test_loops_are_flagged(text):
    assert looks_looping(text)


@pytest.mark.parametrize(
    "text",
    [
        "Put the egg in boiling water for about nine minutes, then cool it in cold water.",
        "Keep 1000000 in savings? Mississippi bookkeepers say yes, yes it is.",
        "Water it well, feed it well, and keep it in bright light.",
        "",
    ],
)
def test_normal_text_is_not_flagged(text):
    assert not looks_looping(text)


def test_looping_matches_the_embedded_data():
    rows = embedded_rows(0)
    assert all(looks_looping(r["rejected"]) for r in rows if r["rejected_kind"] == "repetitive")
    assert not any(looks_looping(chosen) for chosen in {r["chosen"] for r in rows})


def test_degeneration_stats_eos_rate_and_mean_words():
    responses = ["one two three", "a b a b a b a b", "x"]
    stats = degeneration_stats(responses, ended_with_eos=[True, False, True])
    assert stats["degeneration/eos_rate"] == pytest.approx(2 / 3)
    assert stats["degeneration/mean_words"] == pytest.approx(4.0)
    assert stats["degeneration/looping_rate"] == pytest.approx(1 / 3)
    assert "degeneration/eos_rate" not in degeneration_stats(responses)
    with pytest.raises(ValueError, match="ended_with_eos"):
        degeneration_stats(responses, ended_with_eos=[True])
    with pytest.raises(ValueError, match="at least one"):
        degeneration_stats([])


def _feed(monitor, rewards, judges) -> list[str | None]:
    return [monitor.update(i, r, j) for i, (r, j) in enumerate(zip(rewards, judges, strict=True))]


def test_monitor_warns_when_reward_rises_and_judge_falls():
    monitor = OverOptimisationMonitor(window=3)
    warnings = _feed(monitor, [0.0, 1.0, 2.0, 3.0, 4.0], [0.5, 0.9, 0.8, 0.6, 0.4])
    assert warnings[:3] == [None, None, None]  # the judge still rose over the first window
    assert warnings[3] is not None and "iteration 3" in warnings[3]
    assert warnings[4] is not None
    assert (monitor.best_iteration, monitor.best_judge) == (1, 0.9)


@pytest.mark.parametrize(
    ("rewards", "judges"),
    [
        ([0.0, 1.0, 2.0, 3.0], [0.1, 0.2, 0.3, 0.4]),  # both rise: learning
        ([3.0, 2.0, 1.0, 0.0], [0.4, 0.3, 0.2, 0.1]),  # both fall: collapse, not hacking
        ([1.0, 1.0, 1.0, 1.0], [0.4, 0.3, 0.2, 0.1]),  # reward flat
        ([0.0, 1.0, 2.0, 3.0], [0.3, 0.3, 0.3, 0.3]),  # judge flat
    ],
)
def test_monitor_is_quiet_otherwise(rewards, judges):
    monitor = OverOptimisationMonitor(window=3)
    assert _feed(monitor, rewards, judges) == [None] * 4
    assert monitor.best_iteration == int(np.argmax(judges))


def test_monitor_tolerance_ignores_small_falls():
    rewards, judges = [0.0, 1.0, 2.0], [0.50, 0.49, 0.48]
    assert _feed(OverOptimisationMonitor(window=3), rewards, judges)[-1] is not None
    quiet = OverOptimisationMonitor(window=3, judge_tolerance=0.05)
    assert _feed(quiet, rewards, judges)[-1] is None
    assert (
        _feed(OverOptimisationMonitor(window=3, reward_tolerance=5.0), rewards, judges)
        == [None] * 3
    )


def test_monitor_resumes_from_its_saved_fields():
    rewards, judges = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [0.5, 0.9, 0.8, 0.6, 0.4, 0.3]
    whole = OverOptimisationMonitor(window=3)
    expected = _feed(whole, rewards, judges)
    first = OverOptimisationMonitor(window=3)
    _feed(first, rewards[:3], judges[:3])
    resumed = OverOptimisationMonitor(**json.loads(json.dumps(dataclasses.asdict(first))))
    later = [
        resumed.update(i, r, j)
        for i, r, j in zip(range(3, 6), rewards[3:], judges[3:], strict=True)
    ]
    assert later == expected[3:] and later[-1] is not None
    assert (resumed.best_iteration, resumed.best_judge) == (whole.best_iteration, 0.9)


def test_gold_judge_rejects_negative_weights_and_an_empty_range():
    with pytest.raises(ValueError, match="weight of evasion"):
        GoldJudge(evasion_weight=-1.0)
    with pytest.raises(ValueError, match="min_words <= max_words"):
        GoldJudge(min_words=40)


def test_monitor_rejects_bad_settings_and_values():
    with pytest.raises(ValueError, match="window"):
        OverOptimisationMonitor(window=1)
    with pytest.raises(ValueError, match="judge_tolerance"):
        OverOptimisationMonitor(judge_tolerance=-1.0)
    with pytest.raises(ValueError, match="finite"):
        OverOptimisationMonitor().update(0, math.nan, 0.0)
