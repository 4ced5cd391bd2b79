//! The topology runs the real binaries: issue through issuance, see the
//! robots reach the registry, kill the registry and bring it back on the
//! same port and database, and stop everything with SIGTERM.

use std::time::{Duration, Instant};

use robotid_proto::issuance::v1 as issuance;
use robotid_proto::registry::v1 as registry;
use robotid_topology::{Options, Service, Topology, request_id};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_run_as_processes_and_survive_a_kill() {
    let mut topology = Topology::start(Options::from_env()).await.unwrap();
    for service in Service::ALL {
        let memory = topology.memory(service).expect("running");
        assert!(memory.peak_bytes >= memory.current_bytes && memory.current_bytes > 0);
    }
    let model = topology.approve_model("HX0001").await.unwrap();
    let robots = topology
        .issuance_as("manufacturer")
        .await
        .unwrap()
        .issue_robot_ids(issuance::IssueRobotIdsRequest {
            request_id: request_id("issue"),
            product_model: model,
            count: 3,
            production: None,
        })
        .await
        .unwrap()
        .into_inner()
        .robots;
    assert_eq!(robots.len(), 3);

    topology.kill(Service::Registry).unwrap();
    let pid_before = topology.process(Service::Registry).unwrap().pid();
    assert_eq!(pid_before, None, "a killed service has no process");
    topology.restart(Service::Registry).await.unwrap();

    // Issuance's outbox delivers to the registry, whenever it is back.
    let mut public = topology.registry_anonymous().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    for robot in &robots {
        loop {
            let found = public
                .get_robot(registry::GetRobotRequest {
                    robot_id: robot.robot_id.clone(),
                    view: registry::RobotView::Public.into(),
                })
                .await;
            if found.is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} never reached the registry",
                robot.robot_id
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let (stdout, _) = topology.process(Service::Registry).unwrap().log_files();
    assert!(
        std::fs::metadata(stdout).unwrap().len() > 0,
        "logs are captured"
    );
    topology.shutdown().await.unwrap();
}
