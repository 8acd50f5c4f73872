import spacy

from willow import model_files, spacy_pipeline


def test_built_pipeline_lemmatises_offline(tmp_path):
    nlp = spacy.load(spacy_pipeline.build(tmp_path / "en_test"))
    lemmas = [token.lemma_ for token in nlp("I cried, she cries, we keep crying")]
    assert lemmas.count("cry") == 3


def test_model_name_changes_with_training_data(tmp_path, monkeypatch):
    before = model_files.fingerprint()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.yml").write_text("nlu: []\n")
    monkeypatch.setattr(model_files, "ROOT", tmp_path)
    assert model_files.fingerprint() != before
