//! A spec cannot make hmt read files outside its own directory, and keys
//! given twice are errors rather than silently overwritten.

use hmt_openapi::{LoadOptions, load, load_with};
use std::path::{Path, PathBuf};

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    path.to_owned()
}

/// A spec whose one response schema is `$ref: reference`.
fn spec_referring_to(reference: &str) -> String {
    format!(
        "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {{$ref: '{reference}'}}\n"
    )
}

const POINTER: &str = "/paths/~1a/get/responses/200/content/application~1json/schema/$ref";

#[test]
fn refs_outside_the_spec_directory_are_refused_naming_the_pointer() {
    let root = tempfile::tempdir().unwrap();
    let outside = write(&root.path().join("secret.yaml"), "Pet: {type: object}\n");
    let dir = root.path().join("specs");
    let relative = write(
        &dir.join("relative.yaml"),
        &spec_referring_to("../secret.yaml#/Pet"),
    );
    let error = load(std::slice::from_ref(&relative))
        .unwrap_err()
        .to_string();
    let secret = std::fs::canonicalize(&outside).unwrap();
    assert_eq!(
        error,
        format!(
            "{}: at {POINTER}: $ref \"../secret.yaml#/Pet\" reads {}, outside the spec's directory {}; \
             a spec's references may read only files under its own directory unless another directory is allowed",
            relative.display(),
            secret.display(),
            std::fs::canonicalize(&dir).unwrap().display()
        )
    );

    // `..` through a subdirectory, absolute paths and system files alike.
    for reference in [
        "sub/../../secret.yaml".to_owned(),
        secret.display().to_string(),
        "../../../../../../../../etc/passwd".to_owned(),
        "/etc/passwd".to_owned(),
    ] {
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let spec = write(&dir.join("api.yaml"), &spec_referring_to(&reference));
        let error = load(&[spec]).unwrap_err().to_string();
        assert!(
            error.contains(&format!("at {POINTER}: $ref {reference:?} reads ")),
            "{reference}: {error}"
        );
        assert!(error.contains("outside the spec's directory"), "{error}");
    }
}

#[test]
fn refs_inside_the_spec_directory_and_allowed_directories_load() {
    let root = tempfile::tempdir().unwrap();
    let outside = root.path().join("outside");
    write(
        &outside.join("pet.yaml"),
        "Pet: {type: object, properties: {owner: {$ref: 'person.yaml#/Person'}}}\n",
    );
    write(&outside.join("person.yaml"), "Person: {type: object}\n");
    let dir = root.path().join("specs");
    write(&dir.join("common/local.yaml"), "Pet: {type: object}\n");
    let inside = write(
        &dir.join("inside.yaml"),
        &spec_referring_to("common/local.yaml#/Pet"),
    );
    assert_eq!(load(&[inside]).unwrap()[0].operations.len(), 1);

    let spec = write(
        &dir.join("outside.yaml"),
        &spec_referring_to("../outside/pet.yaml#/Pet"),
    );
    assert!(load(std::slice::from_ref(&spec)).is_err());
    let options = LoadOptions {
        allow_outside: vec![outside.clone()],
    };
    let specs = load_with(&[spec], &options).expect("an allowed directory is read");
    // Files in the allowed directory may refer to each other.
    let bundle = &specs[0].document["x-hmt-bundle"];
    assert_eq!(bundle[1]["Person"]["type"], "object");
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_out_of_the_spec_directory_is_refused() {
    let root = tempfile::tempdir().unwrap();
    write(&root.path().join("secret.yaml"), "Pet: {type: object}\n");
    let dir = root.path().join("specs");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(root.path().join("secret.yaml"), dir.join("link.yaml")).unwrap();
    let spec = write(&dir.join("api.yaml"), &spec_referring_to("link.yaml#/Pet"));
    let error = load(&[spec]).unwrap_err().to_string();
    assert!(
        error.contains(&format!("at {POINTER}: $ref \"link.yaml#/Pet\" reads ")),
        "{error}"
    );
}

#[test]
fn a_missing_or_remote_file_names_the_pointer_too() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        &dir.path().join("api.yaml"),
        &spec_referring_to("missing.yaml#/Pet"),
    );
    let error = load(std::slice::from_ref(&spec)).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "{}: at {POINTER}: $ref \"missing.yaml#/Pet\": ",
            spec.display()
        )),
        "{error}"
    );
    let spec = write(
        &dir.path().join("api.yaml"),
        &spec_referring_to("https://example.com/pet.yaml"),
    );
    let error = load(&[spec]).unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "at {POINTER}: $ref \"https://example.com/pet.yaml\": remote references are not fetched"
        )),
        "{error}"
    );
}

#[test]
fn a_key_twice_is_a_load_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        &dir.path().join("api.yaml"),
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses: {'200': {description: first}}\n  /a:\n    get:\n      responses: {'404': {description: second}}\n",
    );
    let error = load(std::slice::from_ref(&spec)).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "{}: paths: duplicate key \"/a\" at line 4 column 3",
            spec.display()
        )
    );
    let spec = write(
        &dir.path().join("api.json"),
        "{\"openapi\": \"3.0.3\",\n \"info\": {\"title\": \"t\", \"version\": \"1\"},\n \"paths\": {},\n \"paths\": {}}",
    );
    let error = load(std::slice::from_ref(&spec)).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "{}: duplicate key \"paths\" at line 4 column 8",
            spec.display()
        )
    );
}
