from __future__ import annotations

import pytest
from textual.widgets import Input

from stylora_tui.config.wizard import WizardState, demo_state
from stylora_tui.tui.app import StyloraApp
from tests.tui.conftest import text_of, wait_until

pytestmark = pytest.mark.asyncio


async def test_demo_walks_every_step_and_launches(services):
    app = StyloraApp(services, demo_state())
    async with app.run_test(size=(80, 24)) as pilot:
        assert type(app.screen).__name__ == "ModelScreen"
        assert "ok" in text_of(app, "#model-check")
        await pilot.press("ctrl+n")
        assert type(app.screen).__name__ == "DatasetScreen"
        await wait_until(pilot, lambda: app.report is not None)
        await pilot.pause(0.1)
        assert "8 images, 8 usable" in text_of(app, "#summary")
        assert "128x192" in text_of(app, "#buckets")
        await pilot.press("ctrl+n")
        assert type(app.screen).__name__ == "TriggerScreen"
        await wait_until(pilot, lambda: "OK" in text_of(app, "#verdict"))
        assert "CLIP ViT-L" in text_of(app, "#tokens") and "stylorademostyle" in text_of(app, "#preview")
        await pilot.press("ctrl+n")
        assert type(app.screen).__name__ == "PresetScreen"
        await pilot.press("ctrl+n")
        assert type(app.screen).__name__ == "ReviewScreen"
        summary = text_of(app, "#summary")
        assert "221 modules" in summary and "32" in summary
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MonitorScreen")
        assert services.launcher.launched[0].name == "run-01"
        run = services.launcher.launched[0]
        assert run.config.is_file() and run.dataset_manifest.is_file()


async def test_back_keeps_what_was_typed(services):
    app = StyloraApp(services, WizardState())
    async with app.run_test(size=(80, 24)) as pilot:
        field = app.screen.query_one("#model", Input)
        field.value = "demo"
        await pilot.press("ctrl+n")
        assert type(app.screen).__name__ == "DatasetScreen"
        app.screen.query_one("#dataset", Input).value = "/some/where"
        await pilot.press("ctrl+b")
        assert type(app.screen).__name__ == "ModelScreen"
        assert app.screen.query_one("#model", Input).value == "demo"
        await pilot.press("ctrl+n")
        assert app.screen.query_one("#dataset", Input).value == "/some/where"


async def test_bad_model_path_blocks_next_with_reason(services, tmp_path):
    (tmp_path / "model.ckpt").write_bytes(b"x")
    app = StyloraApp(services, WizardState(model_path=str(tmp_path / "model.ckpt")))
    async with app.run_test(size=(80, 24)) as pilot:
        assert "pickle" in text_of(app, "#model-check")
        await pilot.press("ctrl+n")
        assert type(app.screen).__name__ == "ModelScreen"
        assert "pickle" in text_of(app, "#step-error")


async def test_family_mismatch_warns(services, tmp_path):
    from tests.conftest import SDXL, fake_safetensors

    fake_safetensors(tmp_path / "ponyDiffusionV6XL.safetensors", SDXL)
    app = StyloraApp(services, WizardState(family="animagine", model_path=str(tmp_path / "ponyDiffusionV6XL.safetensors")))
    async with app.run_test(size=(80, 24)):
        assert "looks like Pony" in text_of(app, "#model-check")


async def test_trigger_error_blocks_and_suggests(services):
    app = StyloraApp(services, demo_state())
    async with app.run_test(size=(80, 24)) as pilot:
        app.show_step("trigger")
        await pilot.pause(0.1)
        field = app.screen.query_one("#trigger", Input)
        field.value = "score_9"
        await wait_until(pilot, lambda: "ERROR" in text_of(app, "#verdict"))
        assert "try:" in text_of(app, "#verdict")
        await pilot.press("ctrl+n")
        assert type(app.screen).__name__ == "TriggerScreen" and "quality tags" in text_of(app, "#step-error")


async def test_preset_field_marked_invalid_as_you_type(services):
    app = StyloraApp(services, demo_state())
    async with app.run_test(size=(80, 24)) as pilot:
        app.show_step("preset")
        await pilot.pause(0.1)
        dim = app.screen.query_one("#f-network-alpha", Input)
        dim.value = "500"
        await pilot.pause(0.1)
        assert dim.has_class("-invalid") and "alpha" in text_of(app, "#step-error")
        dim.value = "3"
        await pilot.pause(0.1)
        assert not dim.has_class("-invalid")
        assert "network.alpha: 2 → 3" in text_of(app, "#changed")
        assert app.wizard.edits == {"network.alpha": 3}


async def test_dataset_step_scans_a_practice_sized_folder_with_a_cold_cache(services, tmp_path):
    # 40 images: above the size where the scan uses a process pool, whose start-up failed
    # inside Textual (stderr without a file descriptor) and killed the wizard.
    from tests.conftest import write_practice_dataset

    folder = write_practice_dataset(tmp_path / "forty", 40)
    app = StyloraApp(services, WizardState(model_path="demo", trigger="stylorapractice"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        assert type(app.screen).__name__ == "DatasetScreen"
        app.screen.query_one("#dataset", Input).value = str(folder)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.report is not None, tries=600)
        await pilot.pause(0.1)
        assert "40 images, 40 usable" in text_of(app, "#summary")
        assert "1024x1536" in text_of(app, "#buckets")


async def test_review_refuses_adamw8bit_without_cuda_and_asks_before_cpu_training(services, tmp_path):
    from dataclasses import replace

    from stylora_tui.integrations.machine import Machine
    from tests.conftest import SDXL, fake_safetensors

    no_gpu = replace(services, machine=lambda: Machine((), 2))
    model = fake_safetensors(tmp_path / "animagineXL.safetensors", SDXL)
    wizard = replace(demo_state(), model_path=str(model), edits={"optimizer.name": "AdamW8bit"})
    app = StyloraApp(no_gpu, wizard)
    async with app.run_test(size=(80, 24)) as pilot:
        app.show_step("dataset")
        await wait_until(pilot, lambda: app.report is not None)
        app.show_step("review")
        await pilot.pause(0.1)
        assert "AdamW8bit needs an NVIDIA GPU" in text_of(app, "#summary")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: "AdamW8bit" in text_of(app, "#step-error"))
        assert no_gpu.launcher.launched == []

        app.update_wizard(edits={})
        app.show_step("review")
        await pilot.pause(0.1)
        assert "no NVIDIA GPU found" in text_of(app, "#summary")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog")
        assert "Train on the CPU anyway?" in str(app.screen.query_one("Static").content)
        await pilot.press("n")
        await wait_until(pilot, lambda: "not launched" in text_of(app, "#step-error"))
        assert no_gpu.launcher.launched == []
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MonitorScreen", tries=200)
        assert len(no_gpu.launcher.launched) == 1


async def test_review_judges_the_dataset_against_the_current_trigger(services):
    from dataclasses import replace

    app = StyloraApp(services, demo_state())
    async with app.run_test(size=(80, 24)) as pilot:
        app.show_step("dataset")
        await wait_until(pilot, lambda: app.report is not None)
        assert "trigger-missing" not in text_of(app, "#summary") + str([f.code for f in app.report.findings])
        app.wizard = replace(app.wizard, trigger="anotherstyle")
        app.show_step("review")
        await pilot.pause(0.1)
        await wait_until(pilot, lambda: "trigger-missing" in text_of(app, "#summary"))


async def test_typing_a_trigger_checks_once_the_keys_pause(services, tmp_path):
    from dataclasses import replace

    from tests.conftest import write_practice_dataset

    folder = write_practice_dataset(tmp_path / "long", 40, size=(256, 384))
    for caption in folder.glob("*.txt"):
        caption.write_text(", ".join(["stylorapractice"] + [f"tag number {i}" for i in range(60)]))
    app = StyloraApp(services, replace(demo_state(), dataset_path=str(folder), edits={"captions.max_token_length": 75}))
    async with app.run_test(size=(80, 24)) as pilot:
        app.show_step("dataset")
        await wait_until(pilot, lambda: app.report is not None, tries=400)
        app.show_step("trigger")
        await pilot.pause(0.2)
        screen = app.screen
        calls = []
        original = screen.check
        screen.check = lambda *args: (calls.append(args[0]), original(*args))
        screen.query_one("#trigger", Input).value = ""
        await pilot.click("#trigger")
        await pilot.press(*"mystylexl")
        await wait_until(pilot, lambda: "my·1152 sty·1421 lex·6586" in text_of(app, "#tokens"))
        assert calls[-1] == "mystylexl" and len(calls) <= 3, calls
        assert "40 of 40" in text_of(app, "#budget")


async def test_file_browser_is_full_screen_goes_up_takes_a_typed_path_and_hides_dotfiles(services, tmp_path):
    from tests.conftest import write_practice_dataset

    workspace = tmp_path / "workspace"
    folder = write_practice_dataset(workspace / "hokusai", 16, size=(256, 384))
    (workspace / ".cache").mkdir()
    for name in ("a-models", "b-other", "c-more"):
        (workspace / name).mkdir()
    app = StyloraApp(services, WizardState(model_path="demo", dataset_path=str(folder / "000.jpg")))
    async with app.run_test(size=(80, 24)) as pilot:
        app.show_step("dataset")
        await pilot.pause(0.2)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "FileBrowserDialog")
        tree = app.screen.query_one("#browse-tree")
        assert str(tree.path) == str(folder), "starts at the folder the field points into"
        assert tree.size.height >= 15, "usable at 80x24"
        await pilot.press("ctrl+u")
        await pilot.pause(0.3)
        assert str(tree.path) == str(workspace)
        shown = [str(node.label) for node in tree.root.children]
        assert ".cache" not in shown and "hokusai" in shown
        app.screen.query_one("#browse-path").value = str(folder)
        await pilot.click("#browse-path")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert str(tree.path) == str(folder)
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "DatasetScreen")
        assert app.screen.query_one("#dataset", Input).value == str(folder)
        assert app.screen.focused is app.screen.query_one("#dataset", Input)
        await wait_until(pilot, lambda: app.report is not None, tries=400)


async def test_save_preset_is_on_screen_enter_saves_and_the_preset_describes_itself(services):
    from stylora_tui import paths

    app = StyloraApp(services, demo_state())
    async with app.run_test(size=(80, 24)) as pilot:
        app.show_step("preset")
        await pilot.pause(0.2)
        name = app.screen.query_one("#save-name", Input)
        assert name.region.bottom <= 24 and name.region.height > 0, "visible without scrolling at 80x24"
        app.screen.query_one("#f-network-alpha", Input).value = "3"
        await pilot.pause(0.1)
        name.value = "my-hokusai"
        await pilot.click("#save-name")
        await pilot.press("enter")
        await pilot.pause(0.2)
        saved = paths.user_presets_dir() / "my-hokusai.toml"
        assert saved.is_file()
        assert saved.read_text().splitlines()[0] == "# my-hokusai: demo with network.alpha = 3"


async def test_dataset_step_offers_tagging_and_trains_on_the_tagged_copy(services, tmp_path):
    from dataclasses import replace

    from tests.conftest import tree_digest, write_practice_dataset
    from tests.tagger_fixture import write_tiny_tagger

    pytest.importorskip("onnxruntime")
    folder = write_practice_dataset(tmp_path / "art", 30, size=(256, 384))
    for stem in ("000", "001", "002"):
        (folder / f"{stem}.txt").unlink()
    before = tree_digest(folder)
    services = replace(services, tagger=str(write_tiny_tagger(tmp_path / "tagger")))
    app = StyloraApp(services, WizardState(model_path="demo", trigger="stylorapractice", dataset_path=str(folder)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.report is not None, tries=600)
        await pilot.pause(0.1)
        offer = app.screen.query_one("#tag-offer")
        assert offer.display
        assert "3 image(s) have no caption" in text_of(app, "#tag-label")
        assert app.screen.query_one("#tag-out", Input).value == f"{folder}-tagged"
        app.report = None
        app.screen.query_one("#tag").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.report is not None, tries=600)
        await pilot.pause(0.1)
        assert app.wizard.dataset_path == f"{folder}-tagged"
        assert not offer.display
        assert not any(f.code == "missing-caption" for f in app.report.findings)
    tagged = tmp_path / "art-tagged"
    assert all((tagged / f"{stem}.txt").read_text() for stem in ("000", "001", "002"))
    assert (tagged / "003.txt").read_text().strip() == (folder / "003.txt").read_text()
    assert tree_digest(folder) == before


async def test_model_step_downloads_a_known_base_on_next_then_goes_on_with_its_path(services, tmp_path):
    from dataclasses import replace

    from stylora_tui.errors import ModelError
    from tests.conftest import SDXL, fake_safetensors

    # Where the hub cache puts it: the known base's prediction type holds without markers.
    snapshot = tmp_path / "hub" / "models--Laxhar--noobai-XL-Vpred-1.0" / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    local = fake_safetensors(snapshot / "NoobAI-XL-Vpred-v1.0.safetensors", SDXL)
    asked = []

    def fetch(ref, progress):
        asked.append(ref)
        if len(asked) == 1:
            progress("noobai.safetensors", 1 << 20, 8 << 20)
            raise ModelError("the hub cannot be reached", "check the connection")
        progress("noobai.safetensors", 8 << 20, 8 << 20)
        return local

    app = StyloraApp(replace(services, fetch=fetch), WizardState(family="noobai", model_path=""))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.click("#model")
        await pilot.press(*"noobai-xl-vpred-1.0")
        await pilot.pause(0.1)
        assert "Laxhar/noobai-XL-Vpred-1.0 from the hub: Next downloads it" in text_of(app, "#model-check")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: "cannot be reached" in text_of(app, "#step-error"))
        assert type(app.screen).__name__ == "ModelScreen"
        assert not app.screen.query_one("#next").disabled
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "DatasetScreen")
        assert app.wizard.model_path == str(local)
        assert app.wizard.family == "noobai"
        await pilot.press("ctrl+b")
        assert "v-prediction + zero terminal SNR (NoobAI-XL V-Pred 1.0" in text_of(app, "#model-check")
    assert [ref.repo for ref in asked] == ["Laxhar/noobai-XL-Vpred-1.0"] * 2


@pytest.fixture
def unreachable_hub(tmp_path, monkeypatch):
    """The in-process huggingface_hub pointed at a port that refuses, with an empty cache."""
    from huggingface_hub import constants

    from tests.fakehub import closed_port

    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


async def test_a_hub_that_cannot_be_reached_leaves_the_wizard_on_the_model_step(services, unreachable_hub):
    app = StyloraApp(services, WizardState(family="noobai", model_path="noobai-xl-1.1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: "could not reach the hub" in text_of(app, "#step-error"))
        assert "refused the connection" in " ".join(text_of(app, "#step-error").split())
        assert type(app.screen).__name__ == "ModelScreen" and app.is_running
        assert app.screen.query_one("#model", Input).value == "noobai-xl-1.1"
        assert not app.screen.query_one("#next").disabled and not app.screen.query_one("#download").display


async def test_the_tag_offer_with_a_hub_that_cannot_be_reached_stays_on_the_dataset_step(services, unreachable_hub, tmp_path):
    from tests.conftest import write_practice_dataset

    folder = write_practice_dataset(tmp_path / "art", 30, size=(256, 384))
    (folder / "000.txt").unlink()
    app = StyloraApp(services, WizardState(model_path="demo", trigger="stylorapractice", dataset_path=str(folder)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.report is not None, tries=600)
        await pilot.pause(0.1)
        app.screen.query_one("#tag").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "could not reach the hub" in text_of(app, "#step-error"), tries=300)
        assert type(app.screen).__name__ == "DatasetScreen" and app.is_running
        assert not app.screen.query_one("#scan-progress").display
    assert not (tmp_path / "art-tagged").exists()


async def test_an_unexpected_error_in_a_step_worker_is_said_and_the_wizard_stays(services):
    from dataclasses import replace

    def fetch(ref, progress):
        raise RuntimeError("a library broke in a way nobody expected")

    app = StyloraApp(replace(services, fetch=fetch), WizardState(family="noobai", model_path="noobai-xl-1.1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: "failed unexpectedly" in text_of(app, "#step-error"))
        assert "RuntimeError: a library broke" in text_of(app, "#step-error")
        assert type(app.screen).__name__ == "ModelScreen" and app.is_running
        assert not app.screen.query_one("#next").disabled


async def test_model_step_names_what_cannot_be_downloaded(services):
    app = StyloraApp(services, WizardState(family="pony", model_path="pony-v6"))
    async with app.run_test(size=(80, 24)) as pilot:
        assert "civitai.com" in text_of(app, "#model-check")
        await pilot.press("ctrl+n")
        assert type(app.screen).__name__ == "ModelScreen"


async def test_every_count_follows_the_preset_picked_after_the_scan(services, tmp_path):
    """30 images scanned under animagine-style (2 repeats x 150 epochs = 9000 steps); the
    preset step picks animagine-first-try (4 x 30 = 3600): review and the dataset step say 3600."""
    from textual.widgets import Select

    from tests.conftest import write_practice_dataset

    folder = write_practice_dataset(tmp_path / "art", 30, size=(256, 384))
    app = StyloraApp(services, WizardState(model_path="demo", trigger="stylorapractice", dataset_path=str(folder)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.report is not None, tries=600)
        await wait_until(pilot, lambda: "9000 steps" in text_of(app, "#summary"))
        app.show_step("preset")
        await pilot.pause(0.1)
        app.screen.query_one("#preset", Select).value = "animagine-first-try"
        await pilot.pause(0.1)
        await pilot.press("ctrl+n")
        assert type(app.screen).__name__ == "ReviewScreen"
        summary = " ".join(text_of(app, "#summary").split())
        assert "120/epoch x 30 epochs = 3600" in summary and "9000" not in summary
        await wait_until(pilot, lambda: "warnings" in text_of(app, "#summary"))
        assert "120/epoch x 30 epochs = 3600" in " ".join(text_of(app, "#summary").split())
        app.show_step("dataset")
        await pilot.pause(0.1)
        await wait_until(pilot, lambda: "3600 steps" in text_of(app, "#summary"))
        assert "images x repeats x epochs = 120 x 30" in " ".join(text_of(app, "#summary").split())


async def test_a_run_name_typed_on_review_names_the_run_and_enter_launches(services):
    app = StyloraApp(services, demo_state())
    async with app.run_test(size=(80, 24)) as pilot:
        app.show_step("dataset")
        await wait_until(pilot, lambda: app.report is not None)
        app.show_step("review")
        await pilot.pause(0.1)
        await pilot.click("#run-name")
        await pilot.press(*"hokusai-1", "enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MonitorScreen", tries=200)
        assert services.launcher.launched[0].name == "hokusai-1"


async def test_what_sits_below_the_fold_at_80x24_is_announced(services, tmp_path):
    from tests.conftest import write_practice_dataset

    folder = write_practice_dataset(tmp_path / "art", 30, size=(256, 384))
    for stem in ("000", "001"):
        (folder / f"{stem}.txt").unlink()
    app = StyloraApp(services, WizardState(model_path="demo", trigger="stylorapractice", dataset_path=str(folder)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.report is not None, tries=600)
        await wait_until(pilot, lambda: "more below" in text_of(app, "#below"))
        assert "a tagging offer" in text_of(app, "#below") and "finding(s)" in text_of(app, "#below")
        for _ in range(10):
            await pilot.press("pagedown")
        await wait_until(pilot, lambda: not app.screen.query_one("#below").display)


async def test_a_config_with_several_problems_lists_them_on_lines_of_their_own(services):
    """Each problem on a line of its own in the review, as the command line prints them: not
    one line with the breaks written out as escapes."""
    from dataclasses import replace

    state = replace(demo_state(), edits={"network.dim": 0, "training.epochs": 0})
    app = StyloraApp(services, state)
    async with app.run_test(size=(80, 24)) as pilot:
        app.show_step("review")
        await pilot.pause(0.2)
        summary = text_of(app, "#summary")
        lines = [line for line in summary.splitlines() if line.strip()]
        assert "config problems:" in lines[0] and "\\x0a" not in summary
        assert any("dim" in line for line in lines[1:]) and any("epochs" in line for line in lines[1:])
