//! The Navigator layer reader on every layer file of the corpus (Navigator samples and update layers, Atomic Red
//! Team, DeTT&CT, mitreattack-python, sysmon-modular), with facts checked on some of them, and each layer written
//! back as format 4.5 and read again.

mod support;

use std::collections::HashMap;
use std::path::Path;

use importers::interop::navigator::{self, Domain, Gradient, Layer, LayerExport};
use importers::record::SourceFile;

/// Whether a file of a folder is a layer.
type Accepts = fn(&Path) -> bool;

/// The layer folders of QUIRKS.md "3. ATT&CK Navigator layers", each with the test that picks its layer files.
const LAYER_FOLDERS: &[(&str, Accepts)] = &[
    ("attack-navigator/layers/samples", is_json),
    ("attack-navigator-samples-2024/layers/data", is_json),
    (
        "atomic-red-team-layers/atomics/Indexes/Attack-Navigator-Layers",
        is_json,
    ),
    ("dettect/threat-actor-data", is_dettect_layer),
    ("mitreattack-python/tests/resources", is_json),
    ("sysmon-modular/attack_matrix", is_json),
];

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension == "json")
}

/// DeTT&CT's threat-actor data also holds other files; its layers are under `ATT&CK-Navigator-layers` folders.
fn is_dettect_layer(path: &Path) -> bool {
    is_json(path)
        && path
            .components()
            .any(|component| component.as_os_str() == "ATT&CK-Navigator-layers")
}

fn layer_files() -> Vec<SourceFile> {
    LAYER_FOLDERS
        .iter()
        .flat_map(|(folder, accepts)| support::source_files(folder, *accepts))
        .collect()
}

fn path(file: &SourceFile) -> String {
    file.path.to_string_lossy().replace('\\', "/")
}

/// The one layer of the corpus file whose path ends with `suffix`.
fn layer(suffix: &str) -> Layer {
    let file = layer_files()
        .into_iter()
        .find(|file| path(file).ends_with(suffix))
        .unwrap_or_else(|| panic!("no corpus file {suffix}"));
    let mut layers = navigator::parse(&file.bytes).expect("parses");
    assert_eq!(layers.len(), 1);
    layers.remove(0)
}

fn count(layer: &Layer, id: &str) -> usize {
    layer
        .techniques
        .iter()
        .filter(|entry| entry.technique.as_str() == id)
        .count()
}

#[test]
fn every_layer_file_parses_whole() {
    let files = layer_files();
    for (folder, accepts) in LAYER_FOLDERS {
        // sysmon-modular's layer is not in every copy of the corpus; every other folder must have layers.
        if !folder.starts_with("sysmon-modular") {
            assert!(
                !support::source_files(folder, *accepts).is_empty(),
                "no layers in {folder}"
            );
        }
    }
    for file in &files {
        let layers =
            navigator::parse(&file.bytes).unwrap_or_else(|error| panic!("{}: {error}", path(file)));
        for layer in layers {
            // Every corpus entry names a well-formed technique, and every file names a format the specs define.
            assert!(
                layer.skipped.is_empty(),
                "{}: {:?}",
                path(file),
                layer.skipped
            );
            assert!(
                layer.warnings.is_empty(),
                "{}: {:?}",
                path(file),
                layer.warnings
            );
            assert!(layer.format_version.is_some(), "{}", path(file));
        }
    }
}

#[test]
fn a_format_3_navigator_sample_has_an_old_domain_name_and_sub_techniques() {
    let bear = layer("Bear_APT.json");
    assert_eq!(bear.name, "*Bear APTs");
    assert_eq!(bear.domain, Domain::Enterprise);
    assert_eq!(bear.format_version.as_deref(), Some("3.0"));
    assert_eq!(bear.attack_version, None);
    assert_eq!(bear.techniques.len(), 126);
    let first = &bear.techniques[0];
    assert_eq!(first.technique.as_str(), "T1001.001");
    assert_eq!(first.comment.as_deref(), Some("used by Fancy Bear"));
    assert_eq!(first.color.as_deref(), Some("#ff6666"));
    assert_eq!(first.score, None);
}

#[test]
fn a_technique_repeated_once_per_tactic_is_kept_each_time() {
    let pins = layer("ATTACKcon 2018/Black_Pins.json");
    assert_eq!(pins.techniques.len(), 22);
    let tactics: Vec<_> = pins
        .techniques
        .iter()
        .filter(|entry| entry.technique.as_str() == "T1056")
        .map(|entry| entry.tactic.as_deref())
        .collect();
    assert_eq!(tactics, [Some("collection"), Some("credential-access")]);
    let update = layer("update_layers/March_2020_Updates_Enterprise.json");
    assert_eq!(update.techniques.len(), 532);
    assert!(update.techniques.iter().all(|entry| entry.score.is_none()));
}

#[test]
fn a_mobile_update_layer_names_its_domain_the_old_way() {
    let mobile = layer("update_layers/April_2019_Updates_Mobile.json");
    assert_eq!(mobile.domain, Domain::Mobile);
    assert_eq!(mobile.techniques.len(), 39);
}

#[test]
fn a_format_4_0_sample_names_attack_8() {
    let wizard_spider = layer("samples/Wizard_Spider-G0102-Updated.json");
    assert_eq!(wizard_spider.format_version.as_deref(), Some("4.0"));
    assert_eq!(wizard_spider.attack_version.as_deref(), Some("8"));
    assert_eq!(wizard_spider.techniques.len(), 85);
}

#[test]
fn an_art_layer_scores_tests_and_links_to_atomics() {
    let workspace = layer("art-navigator-layer-google-workspace.json");
    assert_eq!(workspace.format_version.as_deref(), Some("4.5"));
    assert_eq!(workspace.attack_version.as_deref(), Some("18"));
    assert_eq!(workspace.techniques.len(), 2);
    let service_account = &workspace.techniques[1];
    assert_eq!(service_account.technique.as_str(), "T1078.004");
    assert_eq!(service_account.score, Some(1.0));
    assert_eq!(service_account.tactic, None);
    assert!(
        service_account
            .comment
            .as_deref()
            .is_some_and(|comment| comment.starts_with("\n- "))
    );
    assert_eq!(service_account.links[0].label, "View Atomic");
    assert_eq!(
        workspace.gradient,
        Some(Gradient {
            colors: vec!["#ffffff".to_owned(), "#ce232e".to_owned()],
            min_value: 0.0,
            max_value: 10.0,
        })
    );
}

#[test]
fn a_dettect_layer_has_no_attack_version_and_its_legend_colours_are_trimmed() {
    let red_canary =
        layer("20220322-RedCanary/attack_redcanary---2022-threat-detection-report.json");
    assert_eq!(red_canary.format_version.as_deref(), Some("4.3"));
    assert_eq!(red_canary.attack_version, None);
    assert_eq!(red_canary.techniques.len(), 18);
    assert_eq!(red_canary.techniques[1].score, Some(5998.0));
    assert_eq!(red_canary.techniques[1].metadata[0].name, "Group");
    let software_only = red_canary
        .legend_items
        .iter()
        .find(|item| item.label == "Src. of tech. is only software")
        .expect("legend item");
    assert_eq!(software_only.color, "#0d47a1");
    assert_eq!(
        red_canary.gradient,
        Some(Gradient {
            colors: vec!["#ffcece".to_owned(), "#ff0000".to_owned()],
            min_value: 0.0,
            max_value: 5998.0,
        })
    );
}

#[test]
fn a_pre_sub_technique_dettect_layer_keeps_its_revoked_ids() {
    let crowdstrike = layer(
        "attack_windows-linux-macos_crowdstrike-overwatch-2019-mid-year-report-(seen-in-2018).json",
    );
    assert_eq!(crowdstrike.format_version.as_deref(), Some("2.2"));
    assert_eq!(crowdstrike.domain, Domain::Enterprise);
    assert_eq!(crowdstrike.techniques.len(), 173);
    assert_eq!(count(&crowdstrike, "T1193"), 1);
    assert_eq!(crowdstrike.techniques[0].metadata[0].name, "-Groups");
}

#[test]
fn revoked_ids_of_a_pre_sub_technique_layer_map_to_their_replacements() {
    let mut crowdstrike = layer(
        "attack_windows-linux-macos_crowdstrike-overwatch-2019-mid-year-report-(seen-in-2018).json",
    );
    // PowerShell and Spearphishing Attachment became sub-techniques; Scripting was deprecated.
    let replacements = HashMap::from([
        ("T1086".to_owned(), Some("T1059.001".to_owned())),
        ("T1193".to_owned(), Some("T1566.001".to_owned())),
        ("T1064".to_owned(), None),
    ]);
    let unmapped = navigator::map_revoked(&mut crowdstrike, &replacements);
    let unmapped_ids: Vec<_> = unmapped
        .iter()
        .map(|unmapped| unmapped.entry.technique.as_str())
        .collect();
    assert_eq!(unmapped_ids, ["T1064", "T1064"]);
    assert_eq!(crowdstrike.techniques.len(), 171);
    assert_eq!(count(&crowdstrike, "T1086"), 0);
    let powershell: Vec<_> = crowdstrike
        .techniques
        .iter()
        .filter(|entry| entry.technique.as_str() == "T1059.001")
        .map(|entry| (entry.tactic.as_deref(), entry.score))
        .collect();
    assert_eq!(powershell, [(Some("execution"), Some(1.0))]);
    assert_eq!(count(&crowdstrike, "T1566.001"), 1);
}

#[test]
fn a_mitreattack_python_layer_names_attack_17_0() {
    let enterprise = layer("changelog-v16.1_to_v17.0/layer-enterprise.json");
    assert_eq!(enterprise.format_version.as_deref(), Some("4.5"));
    assert_eq!(enterprise.attack_version.as_deref(), Some("17.0"));
    assert_eq!(enterprise.techniques.len(), 874);
    assert!(
        enterprise
            .techniques
            .iter()
            .any(|entry| count(&enterprise, entry.technique.as_str()) > 1)
    );
}

/// A multi-layer file made of two corpus layers (the corpus has no real one, QUIRKS.md 3.6).
#[test]
fn two_corpus_layers_in_one_array_parse_as_two_layers() {
    let files = layer_files();
    let bear = files
        .iter()
        .find(|file| path(file).ends_with("Bear_APT.json"))
        .expect("Bear_APT");
    let art = files
        .iter()
        .find(|file| path(file).ends_with("art-navigator-layer-iaas-aws.json"))
        .expect("ART AWS layer");
    let mut bytes = b"[".to_vec();
    bytes.extend_from_slice(&bear.bytes);
    bytes.push(b',');
    bytes.extend_from_slice(&art.bytes);
    bytes.push(b']');
    let layers = navigator::parse(&bytes).expect("parses");
    let counts: Vec<_> = layers.iter().map(|layer| layer.techniques.len()).collect();
    assert_eq!(counts, [126, 20]);
}

#[test]
fn every_corpus_layer_written_as_4_5_reads_back_the_same() {
    for file in layer_files() {
        for layer in navigator::parse(&file.bytes).expect("parses") {
            let export = LayerExport {
                name: layer.name.clone(),
                description: layer.description.clone(),
                domain: layer.domain,
                attack_version: layer.attack_version.clone(),
                techniques: layer.techniques.clone(),
                gradient: layer.gradient.clone(),
                legend_items: layer.legend_items.clone(),
                metadata: layer.metadata.clone(),
            };
            let bytes = serde_json::to_vec(&navigator::to_v45(&export)).expect("serialisable");
            let written = navigator::parse(&bytes).expect("reads back").remove(0);
            assert_eq!(
                written,
                Layer {
                    format_version: Some("4.5".to_owned()),
                    ..layer
                },
                "{}",
                path(&file)
            );
        }
    }
}
