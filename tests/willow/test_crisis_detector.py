"""The deterministic crisis layer: risk is found, idioms are left alone, only ids are recorded."""
import pytest
import spacy
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.training_data.message import Message

from willow import model_files
from willow.components.crisis_detector import CrisisDetector, CrisisMatcher, load_spec


@pytest.fixture(scope="module")
def nlp():
    if not (model_files.SPACY_MODEL_DIR / "meta.json").exists():
        pytest.skip("run `make spacy-model` first")
    return spacy.load(model_files.SPACY_MODEL_DIR)


@pytest.fixture(scope="module")
def matcher(nlp):
    return CrisisMatcher(nlp, load_spec())


# Written for these unit tests; the held-out evaluation sets live in tests/crisis/.
@pytest.mark.parametrize(
    "text, group",
    [
        ("i keep thinking about killing myself", "explicit_ideation"),
        ("sometimes i wish i just wouldn't wake up", "passive_ideation"),
        ("i cut myself again last night", "self_harm"),
        ("kms", "slang"),
        ("he hits me when he's drunk and i'm scared to go home", "abuse_or_danger"),
        ("honestly i think about suicidle things more than i admit", "misspellings"),
        ("there's no going back, i already know where and when", "plan_without_naming_the_act"),
        ("i've figured out where i'd do it", "plan_without_naming_the_act"),
        ("i got everything i need to end it, it's in my bag", "means_acquired"),
        ("i swallowed more than the label says on purpose", "overdose_plain_words"),
        ("i'm going to take them all when my flatmate leaves", "overdose_plain_words"),
        ("locked myself in the loo because my husband is raging again", "hiding_from_violence"),
        ("he said he'd hurt the dog if i told anyone", "hiding_from_violence"),
        ("my coach gives me presents to keep it secret", "child_keeping_secrets"),
        ("i hate what my stepdad does to me", "child_keeping_secrets"),
        ("i'm scared of what i might do to myself", "unsafe_with_myself"),
        ("you won't hear from me again, this is the last time i'll speak to anybody", "goodbye_without_naming"),
        ("my cousin's boyfriend pushed me out of the flat and i hit the stairs", "abuse_or_danger"),
        ("i'm sitting alone and i want to cut so bad", "self_harm"),
        ("i'd honestly be relieved if i didn't wake up", "passive_ideation"),
        ("some days i wish i could just stop being", "passive_ideation"),
        ("i've made a plan to finish my life", "explicit_ideation"),
        ("i've been cutting since the summer", "self_harm"),
        ("the urge to cut is back and it's bad", "self_harm"),
        ("took a whole lot of my meds on purpose earlier", "overdose_plain_words"),
        ("does anyone else go to sleep hoping they don't wake up", "passive_ideation"),
        ("some days i want to disappear and never come back", "indirect"),
        ("once my sister goes home then i'll do it", "plan_words_without_the_act"),
        ("i think i have to go through with it", "plan_words_without_the_act"),
        ("everything is ready and nobody knows", "ready_without_saying_for_what"),
        ("i finally have the means", "ready_without_saying_for_what"),
        ("i'm going to end things at the weekend, i've thought about it enough", "explicit_ideation"),
        ("i'm planning to do it this weekend while they're away", "plan_words_without_the_act"),
        ("most days i'd rather not exist", "passive_ideation"),
        ("i'd rather just not wake up tomorrow", "passive_ideation"),
        ("my uncle sneaks into my little brother's room at night", "child_keeping_secrets"),
        ("my sister told me what our stepdad does to her", "child_keeping_secrets"),
        ("picked a date. it's next week", "plan_words_without_the_act"),
        ("my stepdad turns violent after a few beers", "abuse_or_danger"),
        ("i've been saving up my sleeping tablets for a while", "plan_or_means"),
    ],
)
def test_risk_is_found(matcher, nlp, text, group):
    assert group in matcher.find(nlp(text))


@pytest.mark.parametrize(
    "text",
    [
        "i nearly died of embarrassment when i started sobbing",
        "that session killed me, i'm exhausted",
        "i'm dying to know why i cry every time",
        "i laughed until i cried in the waiting room",
        "we talked about my grandma dying and i cried the whole hour",
        # over-broad before: "tired of being" without "alive", being told to leave the house
        "i'm so tired of being the only one who plans anything",
        "my landlord threw me out of the flat last spring",
        "when we argue he kicks me out for the night and i stay at my sister's",
        "i cried so hard we had to wait before we could carry on",
        "i tell my wife i love her every morning",
        "i used to cut my own hair to save money",
        "i'm killing myself at work trying to hit my targets",
        "my son cut himself shaving and cried",
        "i did something stupid at the party and now my friends are annoyed",
        "i've been cutting out sugar since january",
        "i plan to finish my degree next year",
        "there's no future in this job for me",
        "i'm going to end things with my boyfriend this weekend",
        "i'd rather not live with my parents after uni",
        "i'd rather not be the one who always cries first",
    ],
)
def test_idioms_and_ordinary_talk_are_left_alone(matcher, nlp, text):
    assert matcher.find(nlp(text)) == []


def test_every_tier_is_one_the_detector_reads():
    # Any other value (for example "possible") would be silently ignored by the matcher.
    spec = load_spec()
    assert {g.get("tier", "crisis") for g in spec["groups"]} <= {"crisis", "possible_crisis"}
    for kind in ("groups", "exclusions", "past_markers", "present_markers", "someone_else"):
        ids = [g["id"] for g in spec[kind]]
        assert len(ids) == len(set(ids)), kind
        for group in spec[kind]:
            assert group["id"].isidentifier() and group.get("description"), group["id"]
            assert group.get("phrases") or group.get("lemma_phrases") or group.get("patterns"), group["id"]


# Possible risk: the check-in question first, never the crisis reply at once.
@pytest.mark.parametrize(
    "text, group",
    [
        ("i can't cope with any of it anymore", "hopelessness"),
        ("i just want it all to go away", "hopelessness"),
        ("to be honest i don't see any future", "hopelessness"),
        ("life feels so meaningless lately", "hopelessness"),
        ("i don't trust myself alone right now", "not_trusting_myself"),
        ("i've got a plan and nobody knows about it", "a_plan_unsaid"),
        ("the dark thoughts are back every night", "euphemisms"),
        ("i'm scared i'll do something stupid tonight", "euphemisms"),
        ("i keep stopping on the bridge on my way home", "euphemisms"),
        ("years back i tried to end it", "euphemisms"),
        ("i might have swallowed too many", "taken_too_much"),
        ("my roommate cuts herself and hides it", "someone_else_at_risk"),
        ("what's the point of any of this?", "hopelessness"),
        ("honestly there's nothing to look forward to", "hopelessness"),
        ("i keep looking over the edge when i'm up there", "euphemisms"),
        ("i've got kind of obsessed with the pills in the drawer", "euphemisms"),
        ("i know where my grandad keeps his rifle and i think about it", "euphemisms"),
        ("there's a footbridge by the bus stop and most nights i stop on it", "euphemisms"),
        ("the old urges are back this month", "urges_back_or_an_attempt"),
        ("things have felt fragile after my attempt", "urges_back_or_an_attempt"),
        ("i just need to say goodbye to someone tonight", "goodbye_to_someone"),
        ("been holding onto all the old pills in the drawer", "euphemisms"),
        ("i think i want to end things. i'm so tired", "a_plan_unsaid"),
        ("my stepmum has been hurting me and i do not know who to tell", "abuse_mentioned"),
    ],
)
def test_possible_risk_gets_the_check_in(matcher, nlp, text, group):
    scan = matcher.scan(nlp(text))
    assert group in scan.possible
    assert scan.crisis == []


@pytest.mark.parametrize(
    "text",
    [
        "i have a plan with my therapist for the holidays",
        "we picked a date for the move",
        "i don't see a future with my manager at this company",
        "i have everything ready for school tomorrow",
        "i don't have the means to pay for sessions",
        "i took too many classes this term",
        "i know how and when to ask my partner for space",
        "i wish i could stop being so hard on myself",
        "i can't take it anymore, the neighbours' dog barks all night",
        "what's the point of therapy if i never cry?",
        "i'm looking forward to my next session",
        "i know where my therapist keeps the tissues",
        "we walked over the bridge after the session and talked",
        "i keep forgetting to take my meds in the morning",
        "we picked a date for the wedding",
        "i chose the day for my first session",
    ],
)
def test_ordinary_uses_of_plan_and_means_words_are_left_alone(matcher, nlp, text):
    scan = matcher.scan(nlp(text))
    assert scan.crisis == [] and scan.possible == []


@pytest.mark.parametrize("text", [
    "honestly nothing will ever get better for me",
    "things are never going to get better are they",
    "it's never gonna get better, i know it",
    "nothing is ever going to get better",
])
def test_hopelessness_that_things_will_never_get_better_gets_the_check_in(matcher, nlp, text):
    scan = matcher.scan(nlp(text))
    assert scan.crisis == [] and "hopelessness" in scan.possible


@pytest.mark.parametrize("text", [
    "does it ever get better after a breakup?",
    "my cough got better after a week",
    "things got better once i started therapy",
])
def test_asking_whether_it_gets_better_is_not_hopelessness(matcher, nlp, text):
    assert matcher.scan(nlp(text)).possible == []


def test_the_check_in_words_do_not_hide_clear_risk(matcher, nlp):
    scan = matcher.scan(nlp("i can't do this anymore and i want to kill myself"))
    assert "explicit_ideation" in scan.crisis and "hopelessness" in scan.possible


# Risk said as long past gets the check-in; risk now, or recent, stays clear risk.
@pytest.mark.parametrize(
    "text, group",
    [
        ("i use to hurt myself but it's behind me", "self_harm"),                   # used_to
        ("i attempted suicide over twenty years ago", "explicit_ideation"),        # long_ago
        ("in 2012 i overdosed and spent a week in hospital", "overdose"),          # long_ago
        ("i self-harmed when i was fourteen", "self_harm"),                        # at_an_earlier_age
        ("at the age of 13 i wanted to die", "explicit_ideation"),                 # at_an_earlier_age
        ("during secondary school i felt suicidal", "explicit_ideation"),          # at_an_earlier_age
        ("i cut myself for a while and have not done it since", "self_harm"),      # not_since
        ("i was suicidal once but not in years", "explicit_ideation"),             # not_since
        ("six years clean from self-harm", "self_harm"),                           # not_since
        ("i have a history of suicidal thoughts", "explicit_ideation"),            # recovered
        ("i've recovered from self harm", "self_harm"),                            # recovered
    ],
)
def test_risk_said_as_long_past_gets_the_check_in(matcher, nlp, text, group):
    scan = matcher.scan(nlp(text))
    assert scan.crisis == []
    assert group in scan.past


@pytest.mark.parametrize(
    "text",
    [
        "i used to cut and now i want to again",                       # again_or_still, wanting_or_intending
        "i self-harmed as a teen and i still do",                       # again_or_still
        "years ago i was suicidal and the urges are coming back",       # again_or_still
        "when i was 17 i tried to kill myself and i've been thinking about it every day",
        "i overdosed in high school and again last weekend",            # now_or_recently
        "i used to self harm, i did it again three days ago",           # now_or_recently
        "i haven't felt happy in years and i think about suicide",      # "in years" without a stop is not past
        "i'm used to wanting to die",                                   # accustomed, not ended
        "i was suicidal in the past couple of weeks",                   # recent past is present
        "i'm in high school and i cut myself",                          # at school now, not an earlier age
        "i'm in my late teens and i self-harm when it gets bad",       # a decade of life now, not an earlier age
        "i cut myself yesterday",                                       # recent, with no past word at all
    ],
)
def test_risk_now_or_recent_stays_clear_risk(matcher, nlp, text):
    assert matcher.scan(nlp(text)).crisis


def test_only_the_sentence_with_the_past_word_is_heard_as_past(matcher, nlp):
    text = "i self-harmed at 16. i want to kill myself"
    sentences = [(0, text.index(".") + 1), (text.index(".") + 2, len(text))]
    scan = matcher.scan(nlp(text), sentences)
    assert scan.crisis == ["explicit_ideation"] and scan.past == ["self_harm"]


# Risk words about someone else get the check-in, which asks the writer about themselves.
@pytest.mark.parametrize(
    "text, group",
    [
        ("my best friend has been suicidal for months", "explicit_ideation"),
        ("he seems suicidal to me lately", "explicit_ideation"),
        ("after her suicide attempt my sister moved back home", "explicit_ideation"),
        ("my uncle attempted suicide twice", "explicit_ideation"),
        ("our neighbour's daughter overdosed last week", "overdose"),
        ("she said she wants to die and i don't know what to say", "explicit_ideation"),
        ("he keeps threatening to kill himself if i leave", "abuse_or_danger"),
        ("my little brother is self-harming", "self_harm"),
        ("one of my clients who is suicidal missed her session", "explicit_ideation"),
        ("we lost my grandad to suicide in march", "explicit_ideation"),
        ("my wife died by suicide and i can't sleep", "explicit_ideation"),
    ],
)
def test_risk_of_someone_else_gets_the_check_in(matcher, nlp, text, group):
    scan = matcher.scan(nlp(text))
    assert scan.crisis == [] and scan.past == []
    assert group in scan.someone_else or group in scan.possible


@pytest.mark.parametrize(
    "text",
    [
        "my friend is suicidal and honestly so am i, i want to die",
        "my dad says i'm suicidal",
        "my mum died by suicide and now i want to kill myself",
        "i'm a nurse who has been suicidal",
        "she has threatened to kill me more than once",
    ],
)
def test_first_person_risk_next_to_someone_elses_still_counts(matcher, nlp, text):
    assert matcher.scan(nlp(text)).crisis


def test_a_possible_risk_match_sets_the_check_in_and_records_ids(nlp):
    message = run(nlp, "I don't trust myself tonight")
    assert message.get("intent") == {"name": "possible_crisis", "confidence": 1.0}
    report = message.get("crisis_detector")
    assert report["tier"] == "possible_crisis" and report["possible_groups"] == ["not_trusting_myself"]
    assert report["groups"] == [] and "tonight" not in str(report)


def test_risk_said_as_past_is_heard_as_past(nlp):
    message = run(nlp, "I attempted suicide when I was nineteen and I'm well now")
    assert message.get("intent")["name"] == "past_risk"
    assert message.get("crisis_detector")["past_groups"] == ["explicit_ideation"]


def test_risk_of_someone_else_sets_the_check_in(nlp):
    message = run(nlp, "my best friend has been suicidal for months")
    assert message.get("intent")["name"] == "possible_crisis"
    assert message.get("crisis_detector")["someone_else_groups"] == ["explicit_ideation"]
    # The check-in speaks to someone worried about another person (domain/safety.yml).
    assert [e["value"] for e in message.get("entities") if e["entity"] == "risk_about"] == ["someone_else"]


def test_a_friend_at_risk_is_marked_as_someone_elses(nlp):
    message = run(nlp, "my best friend told me she wants to kill herself")
    assert message.get("intent")["name"] == "possible_crisis"
    assert [e["value"] for e in message.get("entities") if e["entity"] == "risk_about"] == ["someone_else"]


def test_risk_of_the_writer_is_not_marked_as_someone_elses(nlp):
    message = run(nlp, "my friend and i have both been thinking about suicide")
    assert message.get("intent")["name"] in ("crisis", "possible_crisis")
    assert not [e for e in message.get("entities") or [] if e["entity"] == "risk_about"]


def test_risk_said_as_past_but_a_sure_classifier_is_still_crisis(nlp):
    message = Message(data={"text": "i used to cut", "intent": {"name": "crisis", "confidence": 0.9},
                            "intent_ranking": [{"name": "crisis", "confidence": 0.9}],
                            "text_spacy_doc": nlp("i used to cut")})
    CrisisDetector({}).process([message], SpacyModel(model=nlp, model_name="test"))
    assert message.get("intent")["name"] == "crisis"


def test_risk_in_another_language_is_crisis_with_its_language(nlp):
    message = run(nlp, "ya no quiero vivir")
    assert message.get("intent")["name"] == "crisis"
    report = message.get("crisis_detector")
    assert report["language"] == "es" and report["language_groups"] == ["es_ideation"]
    assert [e["value"] for e in message.get("entities") if e["entity"] == "language"] == ["es"]


def run(nlp, text, intent="cried_in_therapy"):
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.8},
                            "text_spacy_doc": nlp(text.lower())})
    CrisisDetector({}).process([message], SpacyModel(model=nlp, model_name="test"))
    return message


def test_a_match_overrides_the_intent_and_records_ids_not_text(nlp):
    message = run(nlp, "I cried in therapy because I want to end my life")
    assert message.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert message.get("intent_ranking")[0]["name"] == "crisis"
    report = message.get("crisis_detector")
    assert report["classifier_intent"] == "cried_in_therapy"
    assert report["groups"] and all(g.isidentifier() for g in report["groups"])
    assert "life" not in str(report)


def test_no_match_leaves_the_message_alone(nlp):
    message = run(nlp, "I cried in therapy today")
    assert message.get("intent")["name"] == "cried_in_therapy"
    assert message.get("crisis_detector") is None


def test_button_payloads_are_not_matched(nlp):
    assert run(nlp, "/not_crying", "not_crying").get("intent")["name"] == "not_crying"


def fallback(nlp, text, ranked):
    """A message the FallbackClassifier made nlu_fallback, with the classifier's ranking behind it."""
    ranking = [{"name": "nlu_fallback", "confidence": 0.25}] + [
        {"name": name, "confidence": confidence} for name, confidence in ranked
    ]
    message = Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking,
                            "text_spacy_doc": nlp(text.lower())})
    CrisisDetector({}).process([message], SpacyModel(model=nlp, model_name="test"))
    return message


def test_crisis_as_the_classifiers_uncertain_best_guess_gets_the_check_in(nlp):
    # Safety first: too close to call for the FallbackClassifier is not a reason to ask
    # someone at risk to rephrase. With two tiers an unsure guess asks directly first.
    message = fallback(nlp, "the cupboard is empty now, i took it all",
                       [("crisis", 0.28), ("inform_country", 0.25), ("possible_crisis", 0.15)])
    assert message.get("intent") == {"name": "possible_crisis", "confidence": 1.0}
    report = message.get("crisis_detector")
    # classifier_intent is the intent the detector found on the message: the FallbackClassifier's.
    assert report["groups"] == [] and report["classifier_intent"] == "nlu_fallback"
    assert report["classifier"] == "whole"


def test_an_uncertain_guess_of_another_intent_stays_a_fallback(nlp):
    message = fallback(nlp, "the cupboard is empty now", [("out_of_scope", 0.28), ("crisis", 0.25)])
    assert message.get("intent")["name"] == "nlu_fallback"
    assert message.get("crisis_detector") is None


def test_an_uncertain_crisis_guess_on_an_idiom_stays_a_fallback(nlp):
    message = fallback(nlp, "that session killed me", [("crisis", 0.28), ("cried_in_therapy", 0.25)])
    assert message.get("intent")["name"] == "nlu_fallback"


def classified(nlp, text, ranked, sentences=None):
    """A message as the classifier left it: its ranking, and its sentences' report."""
    ranking = [{"name": name, "confidence": confidence} for name, confidence in ranked]
    data = {"text": text, "intent": ranking[0], "intent_ranking": ranking, "text_spacy_doc": nlp(text.lower())}
    if sentences:
        data["intent_sentences"] = sentences
    message = Message(data=data)
    CrisisDetector({}).process([message], SpacyModel(model=nlp, model_name="test"))
    return message


def test_a_sure_classifier_gives_the_crisis_reply_and_an_unsure_one_the_check_in(nlp):
    sure = classified(nlp, "everything is grey", [("crisis", 0.6), ("other_struggle", 0.3)])
    assert sure.get("intent")["name"] == "crisis" and sure.get("crisis_detector")["classifier"] == "whole"
    unsure = classified(nlp, "everything is grey", [("other_struggle", 0.5), ("crisis", 0.25), ("possible_crisis", 0.2)])
    assert unsure.get("intent")["name"] == "possible_crisis"
    neither = classified(nlp, "everything is grey", [("other_struggle", 0.7), ("crisis", 0.2), ("possible_crisis", 0.1)])
    assert neither.get("intent")["name"] == "other_struggle" and neither.get("crisis_detector") is None


def test_one_risky_sentence_of_a_long_message_gets_the_check_in_never_the_crisis_reply(nlp):
    sentences = [{"intent": "other_struggle", "confidence": 0.8, "risk": 0.1},
                 {"intent": "crisis", "confidence": 0.95, "risk": 0.97}]
    message = classified(nlp, "work is awful. and then there is the other thing.",
                         [("other_struggle", 0.8), ("crisis", 0.1)], sentences)
    assert message.get("intent")["name"] == "possible_crisis"
    assert message.get("crisis_detector")["classifier"] == "sentence"


def test_a_sure_classifier_against_an_idiom_asks_instead_of_dropping_it(nlp):
    message = classified(nlp, "i'm not suicidal, just so tired of everything", [("crisis", 0.8), ("possible_crisis", 0.1)])
    assert message.get("intent")["name"] == "possible_crisis"
    message = classified(nlp, "i'm not suicidal, just so tired of everything", [("crisis", 0.4), ("deny_risk", 0.3)])
    assert message.get("intent")["name"] == "deny_risk"  # the classifier's next intent
