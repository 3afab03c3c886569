//! A GitHub `issues.opened`-shaped payload of about 11.6 KB: the size and shape of what GitHub
//! really sends (nested repository, owner and sender objects full of API URLs).

use serde_json::{Value, json};

fn user(login: &str, id: u64) -> Value {
    let base = format!("https://api.github.com/users/{login}");
    json!({
        "login": login, "id": id, "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"), "gravatar_id": "",
        "url": base, "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{base}/followers"), "following_url": format!("{base}/following{{/other_user}}"),
        "gists_url": format!("{base}/gists{{/gist_id}}"), "starred_url": format!("{base}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{base}/subscriptions"), "organizations_url": format!("{base}/orgs"),
        "repos_url": format!("{base}/repos"), "events_url": format!("{base}/events{{/privacy}}"),
        "received_events_url": format!("{base}/received_events"), "type": "User", "user_view_type": "public",
        "site_admin": false
    })
}

fn repository() -> Value {
    let full = "acme-corp/widget-service";
    let api = format!("https://api.github.com/repos/{full}");
    let mut repo = json!({
        "id": 186853002, "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=", "name": "widget-service",
        "full_name": full, "private": false, "owner": user("acme-corp", 21031067),
        "html_url": format!("https://github.com/{full}"), "description": "Widgets, served.", "fork": false,
        "url": api, "created_at": "2019-05-15T15:19:25Z", "updated_at": "2019-05-15T15:21:03Z",
        "pushed_at": "2019-05-15T15:20:57Z", "git_url": format!("git://github.com/{full}.git"),
        "ssh_url": format!("git@github.com:{full}.git"), "clone_url": format!("https://github.com/{full}.git"),
        "svn_url": format!("https://github.com/{full}"), "homepage": null, "size": 0, "stargazers_count": 0,
        "watchers_count": 0, "language": "Rust", "has_issues": true, "has_projects": true,
        "has_downloads": true, "has_wiki": true, "has_pages": true, "has_discussions": false,
        "forks_count": 0, "mirror_url": null, "archived": false, "disabled": false, "open_issues_count": 2,
        "license": null, "allow_forking": true, "is_template": false, "web_commit_signoff_required": false,
        "topics": ["webhooks", "integration"], "visibility": "public", "forks": 0, "open_issues": 2,
        "watchers": 0, "default_branch": "main"
    });
    let urls = [
        ("forks_url", "/forks"),
        ("keys_url", "/keys{/key_id}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("teams_url", "/teams"),
        ("hooks_url", "/hooks"),
        ("issue_events_url", "/issues/events{/number}"),
        ("events_url", "/events"),
        ("assignees_url", "/assignees{/user}"),
        ("branches_url", "/branches{/branch}"),
        ("tags_url", "/tags"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("trees_url", "/git/trees{/sha}"),
        ("statuses_url", "/statuses/{sha}"),
        ("languages_url", "/languages"),
        ("stargazers_url", "/stargazers"),
        ("contributors_url", "/contributors"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("commits_url", "/commits{/sha}"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("comments_url", "/comments{/number}"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("contents_url", "/contents/{+path}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("merges_url", "/merges"),
        ("archive_url", "/{archive_format}{/ref}"),
        ("downloads_url", "/downloads"),
        ("issues_url", "/issues{/number}"),
        ("pulls_url", "/pulls{/number}"),
        ("milestones_url", "/milestones{/number}"),
        ("notifications_url", "/notifications{?since,all,participating}"),
        ("labels_url", "/labels{/name}"),
        ("releases_url", "/releases{/id}"),
        ("deployments_url", "/deployments"),
    ];
    if let Some(obj) = repo.as_object_mut() {
        for (k, suffix) in urls {
            obj.insert(k.to_string(), Value::String(format!("{api}{suffix}")));
        }
    }
    repo
}

/// The payload with `seq` as its sequence number (handlers forward it, so latency can be matched).
pub fn issue_opened(seq: u64) -> Vec<u8> {
    let api = "https://api.github.com/repos/acme-corp/widget-service";
    let number = 1000 + seq % 1000;
    let body = json!({
        "action": "opened",
        "bench_seq": seq,
        "issue": {
            "url": format!("{api}/issues/{number}"), "repository_url": api,
            "labels_url": format!("{api}/issues/{number}/labels{{/name}}"),
            "comments_url": format!("{api}/issues/{number}/comments"), "events_url": format!("{api}/issues/{number}/events"),
            "html_url": format!("https://github.com/acme-corp/widget-service/issues/{number}"),
            "id": 444500041u64 + seq, "node_id": "MDU6SXNzdWU0NDQ1MDAwNDE=", "number": number,
            "title": "Spelling error in the README file: widgets are spelled 'widgits' in three places",
            "user": user("octocat-reporter", 583231),
            "labels": [
                { "id": 1362934389, "node_id": "MDU6TGFiZWwxMzYyOTM0Mzg5", "url": format!("{api}/labels/bug"), "name": "bug", "color": "d73a4a", "default": true, "description": "Something isn't working" },
                { "id": 1362934390, "node_id": "MDU6TGFiZWwxMzYyOTM0Mzkw", "url": format!("{api}/labels/docs"), "name": "documentation", "color": "0075ca", "default": true, "description": "Improvements or additions to documentation" }
            ],
            "state": "open", "locked": false, "assignee": user("maintainer-one", 700001),
            "assignees": [user("maintainer-one", 700001)], "milestone": null, "comments": 0,
            "created_at": "2019-05-15T15:20:18Z", "updated_at": "2019-05-15T15:20:18Z", "closed_at": null,
            "author_association": "OWNER", "active_lock_reason": null, "sub_issues_summary": { "total": 0, "completed": 0, "percent_completed": 0 },
            "body": "It looks like you accidently spelled 'commit' with two 't's. Also 'widget' is spelled 'widgit' in the install section and in the FAQ. Steps: open README, search for 'widgit'.",
            "reactions": { "url": format!("{api}/issues/{number}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0 },
            "timeline_url": format!("{api}/issues/{number}/timeline"), "performed_via_github_app": null, "state_reason": null
        },
        "repository": repository(),
        "organization": {
            "login": "acme-corp", "id": 21031067, "node_id": "MDEyOk9yZ2FuaXphdGlvbjIxMDMxMDY3",
            "url": "https://api.github.com/orgs/acme-corp", "repos_url": "https://api.github.com/orgs/acme-corp/repos",
            "events_url": "https://api.github.com/orgs/acme-corp/events", "hooks_url": "https://api.github.com/orgs/acme-corp/hooks",
            "issues_url": "https://api.github.com/orgs/acme-corp/issues", "members_url": "https://api.github.com/orgs/acme-corp/members{/member}",
            "public_members_url": "https://api.github.com/orgs/acme-corp/public_members{/member}",
            "avatar_url": "https://avatars.githubusercontent.com/u/21031067?v=4", "description": "Widgets for everyone"
        },
        "sender": user("octocat-reporter", 583231),
        "installation": { "id": 2311213, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMjMxMTIxMw==" }
    });
    serde_json::to_vec(&body).unwrap_or_default()
}
