//! The execution log parsers: ATTiRe on the sample of the ATTiRe README (the only real log upstream) and on
//! small logs written here, the Invoke-AtomicRedTeam CSV on files written here to the letter of its logger
//! (QUIRKS.md "5. Atomic Red Team execution logs": every field quoted, CRLF line ends, a `Z` on local time).

// Each test binary uses its own part of the shared helpers.
#[allow(dead_code)]
mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use domain::test_case::TechniqueId;
use importers::interop::execution_log::{
    self, ExecutionEntry, ExecutionLogError, ExecutionLogSource,
};
use importers::interop::vectr::{CsvError, RowError};
use uuid::Uuid;

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a valid test time")
        .to_utc()
}

/// The `js`-fenced sample of the ATTiRe README.
fn readme_sample() -> String {
    let path = support::corpus_dir().join("attire/README.md");
    let readme = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let (_, fenced) = readme
        .split_once("```js\n")
        .expect("the README has a js block");
    let (sample, _) = fenced.split_once("\n```").expect("the js block is closed");
    sample.to_owned()
}

/// An ATTiRe log with one procedure made of `steps` (JSON objects).
fn attire_log(execution_id: &str, procedure_extra: &str, steps: &str) -> String {
    format!(
        r#"{{
            "attire-version": "1.1",
            "execution-data": {{
                "execution-id": "{execution_id}",
                "execution-source": "Invoke-Atomicredteam",
                "target": {{"host": "WS01", "ip": "", "user": "CORP\\alice"}},
                "time-generated": "",
                "x-vectr-io-campaign-id": "<UUID>"
            }},
            "procedures": [{{
                "procedure-name": "Dump LSASS",
                "mitre-technique-id": "t1003.001",
                {procedure_extra}
                "steps": [{steps}]
            }}]
        }}"#
    )
}

fn only_entry(bytes: &[u8]) -> ExecutionEntry {
    let log = execution_log::parse_attire(bytes).expect("parses");
    assert_eq!(log.entries.len(), 1);
    log.entries.into_iter().next().expect("one entry")
}

#[test]
fn the_readme_sample_is_read() {
    let sample = readme_sample();
    assert!(
        sample.lines().any(|line| line.starts_with('\t')),
        "the sample keeps its tab-indented line"
    );

    let log = execution_log::parse_attire(sample.as_bytes()).expect("the README sample parses");

    assert_eq!(log.source, ExecutionLogSource::Attire);
    assert_eq!(log.skipped, []);
    let execution = log.execution.expect("ATTiRe has execution data");
    // 32 random bytes in base64, not a GUID string: kept as written.
    assert_eq!(execution.id, "3im2GxwX9VG8jzXLTDegLEKY8WfrA1IXL0VUwhlDYWs=");
    assert_eq!(execution.tool, "Invoke-Atomicredteam");
    assert!(
        execution
            .command
            .is_some_and(|command| command.starts_with("Invoke-AtomicTest T1218.010 -TestNames"))
    );
    assert_eq!(
        execution.generated_at,
        Some(time("2021-10-27T02:00:57.439Z"))
    );

    assert_eq!(log.entries.len(), 1);
    let entry = &log.entries[0];
    assert_eq!(
        entry.technique.as_ref().map(TechniqueId::as_str),
        Some("T1218.010")
    );
    assert_eq!(
        entry.atomic_guid,
        Some(Uuid::parse_str("c9d0c4ef-8a96-4794-a75b-3d3a5e6f2a36").expect("a GUID"))
    );
    assert_eq!(entry.test_number, Some(1));
    assert_eq!(
        entry.test_name.as_deref(),
        Some("Regsvr32 remote COM scriptlet execution")
    );
    assert_eq!(
        entry.command.as_deref(),
        Some(r#"powershell.exe -File "T1218010 - Regsvr32 remote COM scriptlet execution""#)
    );
    assert_eq!(entry.executor.as_deref(), Some("POWERSHELL"));
    assert_eq!(entry.target_host.as_deref(), Some("WINDEV2009EVAL"));
    assert_eq!(entry.target_ip.as_deref(), Some("192.168.204.129"));
    assert_eq!(entry.target_user.as_deref(), Some("User"));
    assert_eq!(entry.started_at, time("2021-10-27T02:02:23Z"));
    assert_eq!(entry.stopped_at, Some(time("2021-10-27T02:02:25Z")));
    assert_eq!(entry.exit_code, None);
    assert!(!entry.timed_out);
    let output = entry.output.as_deref().expect("the STDERR content");
    assert!(output.starts_with("File C:\\Users\\User\\Desktop\\AEv1.0 - Administrator-10\\"));
    assert!(output.ends_with("+ FullyQualifiedErrorId : UnauthorizedAccess"));

    let with_bom = format!("\u{feff}{sample}");
    assert_eq!(
        execution_log::parse_attire(with_bom.as_bytes()).map(|log| log.entries),
        Ok(log.entries)
    );
}

#[test]
fn the_art_loggers_execution_id_is_decoded_to_its_guid() {
    let guid = "0b5c4f7e-3f0a-4f59-9a43-2a1c8e0f6d21";
    let bytes = attire_log(
        &BASE64.encode(guid),
        "",
        r#"{"command": "whoami", "order": 1, "time-start": "2022-03-31T15:30:39.000Z", "time-stop": "2022-03-31T15:30:40.000Z"}"#,
    );

    let log = execution_log::parse_attire(bytes.as_bytes()).expect("parses");

    let execution = log.execution.expect("execution data");
    assert_eq!(execution.id, guid);
    assert_eq!(execution.generated_at, None);
    let entry = &log.entries[0];
    assert_eq!(
        entry.technique.as_ref().map(TechniqueId::as_str),
        Some("T1003.001")
    );
    assert_eq!(entry.target_ip, None);
    assert_eq!(entry.target_user.as_deref(), Some("CORP\\alice"));
}

#[test]
fn steps_are_combined_in_order() {
    let bytes = attire_log(
        "run-1",
        r#""procedure-id": {"type": "guid", "id": "C9D0C4EF-8A96-4794-A75B-3D3A5E6F2A36"}, "order": 3.0,"#,
        r#"{"command": "second", "executor": "command_prompt", "order": 2.0,
            "time-start": "2022-03-31T15:31:00.000Z", "time-stop": "2022-03-31T15:31:05.000Z",
            "output": [{"content": "", "level": "STDOUT", "type": "console"}],
            "exit-code": 0, "process-id": 4242, "is-timeout": true},
           {"command": "first", "executor": "command_prompt", "order": 1,
            "time-start": "2022-03-31T15:30:39.000Z", "time-stop": "2022-03-31T15:30:41.000Z",
            "output": [{"content": "out", "level": "STDOUT", "type": "console"},
                       {"content": "err", "level": "STDERR", "type": "console"}],
            "exit-code": 5, "process-id": 4241, "success-regex": "/x/"}"#,
    );

    let entry = only_entry(bytes.as_bytes());

    assert_eq!(
        entry.atomic_guid,
        Some(Uuid::parse_str("c9d0c4ef-8a96-4794-a75b-3d3a5e6f2a36").expect("a GUID"))
    );
    assert_eq!(entry.test_number, Some(3));
    assert_eq!(entry.command.as_deref(), Some("first\nsecond"));
    assert_eq!(entry.executor.as_deref(), Some("command_prompt"));
    assert_eq!(entry.started_at, time("2022-03-31T15:30:39Z"));
    assert_eq!(entry.stopped_at, Some(time("2022-03-31T15:31:05Z")));
    // The failed first step decides, and the empty STDOUT placeholder adds nothing.
    assert_eq!(entry.exit_code, Some(5));
    assert_eq!(entry.process_id, Some(4241));
    assert!(entry.timed_out);
    assert_eq!(entry.output.as_deref(), Some("out\nerr"));
}

#[test]
fn long_output_is_cut_with_a_note() {
    let long = "x".repeat(20_000);
    let bytes = attire_log(
        "run-1",
        "",
        &format!(
            r#"{{"command": "c", "order": 1, "time-start": "2022-03-31T15:30:39.000Z",
                "time-stop": "2022-03-31T15:30:40.000Z", "output": [{{"content": "{long}", "level": "STDOUT", "type": "console"}}]}}"#
        ),
    );

    let output = only_entry(bytes.as_bytes()).output.expect("output");

    assert_eq!(output.chars().count(), 10_000);
    assert!(output.starts_with("xxxx"));
    assert!(output.ends_with("\n[output truncated: 20000 characters in all]"));
}

#[test]
fn a_bad_value_is_reported_with_its_json_path() {
    // The schema's own example of a stop time.
    let bad_time = attire_log(
        "run-1",
        "",
        r#"{"command": "c", "order": 1, "time-start": "2022-03-31T15:30:39.000Z", "time-stop": "202004171657045"}"#,
    );
    let error = execution_log::parse_attire(bad_time.as_bytes()).expect_err("a bad time");
    assert!(matches!(
        &error,
        ExecutionLogError::Attire { path, message }
            if path == "procedures[0].steps[0].time-stop" && message.contains("\"202004171657045\" is not an RFC 3339 time")
    ));

    let bad_technique = attire_log("run-1", "", "").replace("t1003.001", "T12");
    let error = execution_log::parse_attire(bad_technique.as_bytes()).expect_err("a bad technique");
    assert!(matches!(
        &error,
        ExecutionLogError::Attire { path, .. } if path == "procedures[0].mitre-technique-id"
    ));

    let no_steps = attire_log("run-1", "", "");
    assert_eq!(
        execution_log::parse_attire(no_steps.as_bytes()),
        Err(ExecutionLogError::Attire {
            path: "procedures[0].steps".to_owned(),
            message: "a procedure needs at least one step".to_owned(),
        })
    );

    let no_target =
        r#"{"execution-data": {"execution-id": "x", "execution-source": "y"}, "procedures": []}"#;
    let error = execution_log::parse_attire(no_target.as_bytes()).expect_err("no target");
    assert!(matches!(
        &error,
        ExecutionLogError::Attire { path, message } if path == "execution-data" && message.contains("missing field `target`")
    ));

    let sample = readme_sample();
    let (truncated, _) = sample
        .split_once(r#""host""#)
        .expect("the sample names a host");
    let error = execution_log::parse_attire(truncated.as_bytes()).expect_err("truncated");
    // serde_path_to_error writes `?` for a key it has not read yet.
    assert_eq!(
        error.to_string(),
        "not an ATTiRe log: at execution-data.target.?: EOF while parsing an object at line 12 column 12"
    );
}

/// The Default-ExecutionLogger's header, as QUIRKS.md gives it.
const ELEVEN_COLUMNS: &str = r#""Execution Time (UTC)","Execution Time (Local)","Technique","Test Number","Test Name","Hostname","IP Address","Username","GUID","ProcessId","ExitCode""#;

fn csv(lines: &[&str]) -> Vec<u8> {
    format!("{}\r\n", lines.join("\r\n")).into_bytes()
}

#[test]
fn the_eleven_column_csv_is_read_by_its_utc_time() {
    // The run was on a machine at UTC+2: the Local column says 12:00 with a Z, the UTC column 10:00.
    let bytes = csv(&[
        ELEVEN_COLUMNS,
        r#""2024-05-01T10:00:00Z","2024-05-01T12:00:00Z","T1087.002","1","Enumerate all accounts (Domain)","WS01","10.0.0.5","CORP\alice","6fbc9e68-5ad7-444a-bd11-8bf3136c477e","4242","0""#,
        r#""2024-05-01T10:01:30Z","not even a time","T1003","2","Dump with a tool","WS01","10.0.0.5","CORP\alice","","","-1073741819""#,
    ]);

    let log = execution_log::parse_atomic_csv(&bytes).expect("parses");

    assert_eq!(log.source, ExecutionLogSource::AtomicCsv);
    assert_eq!(log.execution, None);
    assert_eq!(log.skipped, []);
    let [first, second] = log.entries.as_slice() else {
        panic!("two entries, got {:?}", log.entries);
    };
    assert_eq!(first.started_at, time("2024-05-01T10:00:00Z"));
    assert_eq!(
        first.technique.as_ref().map(TechniqueId::as_str),
        Some("T1087.002")
    );
    assert_eq!(first.test_number, Some(1));
    assert_eq!(
        first.test_name.as_deref(),
        Some("Enumerate all accounts (Domain)")
    );
    assert_eq!(first.target_host.as_deref(), Some("WS01"));
    assert_eq!(first.target_ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(first.target_user.as_deref(), Some("CORP\\alice"));
    assert_eq!(
        first.atomic_guid,
        Some(Uuid::parse_str("6fbc9e68-5ad7-444a-bd11-8bf3136c477e").expect("a GUID"))
    );
    assert_eq!((first.process_id, first.exit_code), (Some(4242), Some(0)));
    assert_eq!((first.stopped_at, first.command.as_deref()), (None, None));
    assert_eq!(second.started_at, time("2024-05-01T10:01:30Z"));
    assert_eq!(second.atomic_guid, None);
    assert_eq!(
        (second.process_id, second.exit_code),
        (None, Some(-1_073_741_819))
    );
}

#[test]
fn the_thirteen_key_variant_is_read_too() {
    let bytes = csv(&[
        r#""Execution Time (UTC)","Execution Time (Local)","Technique","Test Number","Test Name","Hostname","IP Address","Username","GUID","Tag","CustomTag","ProcessId","ExitCode""#,
        r#""2024-05-01T10:00:00Z","2024-05-01T12:00:00Z","T1087.002","1","Enumerate all accounts (Domain)","WS01","10.0.0.5","alice","6fbc9e68-5ad7-444a-bd11-8bf3136c477e","atomicrunner","lab-7","4242","1""#,
    ]);

    let log = execution_log::parse_atomic_csv(&bytes).expect("parses");

    assert_eq!(log.skipped, []);
    let entry = &log.entries[0];
    assert_eq!(entry.started_at, time("2024-05-01T10:00:00Z"));
    assert_eq!((entry.process_id, entry.exit_code), (Some(4242), Some(1)));
}

#[test]
fn rows_with_a_bad_technique_or_time_are_skipped() {
    let bytes = csv(&[
        ELEVEN_COLUMNS,
        r#""2024-05-01T10:00:00Z","2024-05-01T12:00:00Z","Credential Dumping","1","a","WS01","","alice","","","""#,
        r#""05/01/2024 10:00:00","2024-05-01T12:00:00Z","T1003","1","b","WS01","","alice","","","""#,
        r#""","2024-05-01T12:00:00Z","T1003","1","c","WS01","","alice","","","""#,
        r#""2024-05-01T10:00:00Z","2024-05-01T12:00:00Z","T1003","first","d","WS01","","alice","","","""#,
        r#""2024-05-01T10:00:00Z","2024-05-01T12:00:00Z","T1003","1","kept","WS01","","alice","","","""#,
    ]);

    let log = execution_log::parse_atomic_csv(&bytes).expect("parses");

    assert_eq!(log.entries.len(), 1);
    assert_eq!(log.entries[0].test_name.as_deref(), Some("kept"));
    let reasons: Vec<(u64, String)> = log
        .skipped
        .iter()
        .map(|skipped| (skipped.row, skipped.reason.to_string()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                2,
                "Technique \"Credential Dumping\" is not an ATT&CK technique id".to_owned()
            ),
            (
                3,
                "Execution Time (UTC) \"05/01/2024 10:00:00\" is not an RFC 3339 time".to_owned()
            ),
            (4, "Execution Time (UTC) is empty".to_owned()),
            (
                5,
                "Test Number \"first\" is not a whole number in range".to_owned()
            ),
        ]
    );
    assert_eq!(
        log.skipped[2].reason,
        RowError::Empty {
            field: "Execution Time (UTC)"
        }
    );
}

#[test]
fn a_csv_with_only_local_time_is_refused() {
    let bytes = csv(&[
        r#""Execution Time (Local)","Technique""#,
        r#""2024-05-01T12:00:00Z","T1003""#,
    ]);

    assert_eq!(
        execution_log::parse_atomic_csv(&bytes),
        Err(ExecutionLogError::Csv(CsvError::MissingColumns(vec![
            "Execution Time (UTC)".to_owned()
        ])))
    );
}
