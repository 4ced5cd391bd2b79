//! `robotid manufacturer` and `robotid model`: the regulator admits a
//! manufacturer under its code; a product model is declared (by the
//! regulator or the manufacturer itself) and approved by the regulator.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use robotid_platform::client::RpcChannel;
use robotid_proto::issuance::v1 as pb;
use robotid_proto::issuance::v1::issuance_service_client::IssuanceServiceClient;

use crate::client::output::{self, lines};
use crate::client::{ClientArgs, Globals, RequestIdArg, all_pages, connect};
use crate::endpoints::Service;

#[derive(Debug, Subcommand)]
pub enum ManufacturerCommand {
    /// Admits a manufacturer under a 4-character code (regulator).
    Create(CreateManufacturerArgs),
    /// Shows one manufacturer.
    Get(GetManufacturerArgs),
    /// Lists the admitted manufacturers.
    List(ListArgs),
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Declares a product model of a manufacturer, pending approval
    /// (regulator, or the manufacturer itself).
    Create(CreateModelArgs),
    /// Grants a product model market access (regulator).
    Approve(ModelNameArgs),
    /// Shows one product model.
    Get(ModelRefArgs),
    /// Lists a manufacturer's product models (`-` for every manufacturer).
    List(ListModelsArgs),
}

#[derive(Debug, Args)]
pub struct CreateManufacturerArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    request_id: RequestIdArg,
    /// The code the regulator assigns: 4 digits and capitals, e.g. 0002.
    #[arg(long)]
    code: String,
    /// The enterprise's legal name.
    #[arg(long)]
    legal_name: String,
    /// Its company registration number.
    #[arg(long)]
    registration_number: String,
    /// Its country (default: this registry's).
    #[arg(long)]
    country: Option<String>,
}

#[derive(Debug, Args)]
pub struct GetManufacturerArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The manufacturer code.
    code: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct CreateModelArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    request_id: RequestIdArg,
    /// The manufacturer's code.
    #[arg(long)]
    manufacturer: String,
    /// The model code: 6 digits and capitals, e.g. HX0002.
    #[arg(long)]
    model: String,
    /// The name people know it by.
    #[arg(long)]
    display_name: String,
    /// e.g. household, industrial, service.
    #[arg(long, default_value = "household")]
    category: String,
    #[arg(long, default_value_t = 0)]
    height_mm: i32,
    #[arg(long, default_value_t = 0)]
    mass_g: i32,
    #[arg(long, default_value_t = 0)]
    degrees_of_freedom: i32,
    #[arg(long, default_value_t = 0)]
    battery_capacity_wh: i32,
    /// Autonomy or capability level as the standard grades it, e.g. L2.
    #[arg(long, default_value = "L1")]
    autonomy_level: String,
    /// A key component (repeat for several).
    #[arg(long = "component")]
    components: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ModelNameArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    request_id: RequestIdArg,
    /// The manufacturer's code.
    #[arg(long)]
    manufacturer: String,
    /// The model code.
    #[arg(long)]
    model: String,
}

#[derive(Debug, Args)]
pub struct ModelRefArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The manufacturer's code.
    #[arg(long)]
    manufacturer: String,
    /// The model code.
    #[arg(long)]
    model: String,
}

#[derive(Debug, Args)]
pub struct ListModelsArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The manufacturer's code, or `-` for every manufacturer.
    #[arg(long, default_value = "-")]
    manufacturer: String,
}

async fn issuance(
    globals: &Globals,
    client: &ClientArgs,
) -> anyhow::Result<IssuanceServiceClient<RpcChannel>> {
    Ok(IssuanceServiceClient::new(
        connect(globals, client, Service::Issuance).await?,
    ))
}

pub async fn run_manufacturer(
    command: ManufacturerCommand,
    globals: &Globals,
) -> anyhow::Result<ExitCode> {
    match command {
        ManufacturerCommand::Create(args) => {
            let request_id = args.request_id.get()?;
            let country = match args.country {
                Some(country) => country,
                None => globals.home_country()?.unwrap_or_else(|| "CN".into()),
            };
            let admitted = issuance(globals, &args.client)
                .await?
                .create_manufacturer(pb::CreateManufacturerRequest {
                    request_id: request_id.clone(),
                    manufacturer: Some(pb::Manufacturer {
                        code: args.code,
                        legal_name: args.legal_name,
                        registration_number: args.registration_number,
                        country_code: country,
                        ..Default::default()
                    }),
                })
                .await?
                .into_inner();
            print_manufacturer(&admitted, Some(&request_id), globals.json);
        }
        ManufacturerCommand::Get(args) => {
            let manufacturer = issuance(globals, &args.client)
                .await?
                .get_manufacturer(pb::GetManufacturerRequest {
                    name: format!("manufacturers/{}", args.code),
                })
                .await?
                .into_inner();
            print_manufacturer(&manufacturer, None, globals.json);
        }
        ManufacturerCommand::List(args) => {
            let client = issuance(globals, &args.client).await?;
            let all = all_pages(|page_token| {
                let mut client = client.clone();
                async move {
                    let page = client
                        .list_manufacturers(pb::ListManufacturersRequest {
                            page_size: 100,
                            page_token,
                        })
                        .await?
                        .into_inner();
                    Ok((page.manufacturers, page.next_page_token))
                }
            })
            .await?;
            if globals.json {
                output::print_json(&serde_json::json!({
                    "manufacturers": all.iter().map(manufacturer_json).collect::<Vec<_>>(),
                }));
            } else {
                for manufacturer in &all {
                    println!(
                        "{}  {}  {}",
                        manufacturer.code, manufacturer.country_code, manufacturer.legal_name
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_model(command: ModelCommand, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        ModelCommand::Create(args) => {
            let request_id = args.request_id.get()?;
            let model = issuance(globals, &args.client)
                .await?
                .create_product_model(pb::CreateProductModelRequest {
                    request_id: request_id.clone(),
                    parent: format!("manufacturers/{}", args.manufacturer),
                    product_model: Some(pb::ProductModel {
                        model_code: args.model,
                        display_name: args.display_name,
                        category: args.category,
                        specifications: Some(pb::Specifications {
                            height_mm: args.height_mm,
                            mass_g: args.mass_g,
                            degrees_of_freedom: args.degrees_of_freedom,
                            battery_capacity_wh: args.battery_capacity_wh,
                            autonomy_level: args.autonomy_level,
                        }),
                        key_components: args.components,
                        ..Default::default()
                    }),
                })
                .await?
                .into_inner();
            print_model(&model, Some(&request_id), globals.json);
        }
        ModelCommand::Approve(args) => {
            let request_id = args.request_id.get()?;
            let model = issuance(globals, &args.client)
                .await?
                .approve_product_model(pb::ApproveProductModelRequest {
                    request_id: request_id.clone(),
                    name: model_name(&args.manufacturer, &args.model),
                })
                .await?
                .into_inner();
            print_model(&model, Some(&request_id), globals.json);
        }
        ModelCommand::Get(args) => {
            let model = issuance(globals, &args.client)
                .await?
                .get_product_model(pb::GetProductModelRequest {
                    name: model_name(&args.manufacturer, &args.model),
                })
                .await?
                .into_inner();
            print_model(&model, None, globals.json);
        }
        ModelCommand::List(args) => {
            let client = issuance(globals, &args.client).await?;
            let parent = format!("manufacturers/{}", args.manufacturer);
            let all = all_pages(|page_token| {
                let mut client = client.clone();
                let parent = parent.clone();
                async move {
                    let page = client
                        .list_product_models(pb::ListProductModelsRequest {
                            parent,
                            page_size: 100,
                            page_token,
                            approval_state: pb::ApprovalState::Unspecified.into(),
                        })
                        .await?
                        .into_inner();
                    Ok((page.product_models, page.next_page_token))
                }
            })
            .await?;
            if globals.json {
                output::print_json(&serde_json::json!({
                    "product_models": all.iter().map(model_json).collect::<Vec<_>>(),
                }));
            } else {
                for model in &all {
                    println!(
                        "{}  {}  {}",
                        model.name,
                        approval(model.approval_state),
                        model.display_name
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn model_name(manufacturer: &str, model: &str) -> String {
    format!("manufacturers/{manufacturer}/productModels/{model}")
}

fn approval(value: i32) -> String {
    match pb::ApprovalState::try_from(value) {
        Ok(state) => output::enum_name(state.as_str_name(), "APPROVAL_STATE_"),
        Err(_) => format!("UNKNOWN({value})"),
    }
}

fn manufacturer_json(manufacturer: &pb::Manufacturer) -> serde_json::Value {
    serde_json::json!({
        "name": manufacturer.name,
        "code": manufacturer.code,
        "legal_name": manufacturer.legal_name,
        "registration_number": manufacturer.registration_number,
        "country_code": manufacturer.country_code,
        "create_time": output::time(&manufacturer.create_time),
    })
}

fn print_manufacturer(manufacturer: &pb::Manufacturer, request_id: Option<&str>, json: bool) {
    if json {
        let mut value = manufacturer_json(manufacturer);
        if let Some(request_id) = request_id {
            value["request_id"] = request_id.into();
        }
        output::print_json(&value);
    } else {
        print!(
            "{}",
            lines(&[
                ("manufacturer", manufacturer.name.clone()),
                ("legal name", manufacturer.legal_name.clone()),
                ("registration", manufacturer.registration_number.clone()),
                ("country", manufacturer.country_code.clone()),
                ("admitted", output::time_text(&manufacturer.create_time)),
            ])
        );
    }
}

fn model_json(model: &pb::ProductModel) -> serde_json::Value {
    serde_json::json!({
        "name": model.name,
        "manufacturer_code": model.manufacturer_code,
        "model_code": model.model_code,
        "display_name": model.display_name,
        "category": model.category,
        "key_components": model.key_components,
        "approval_state": approval(model.approval_state),
        "create_time": output::time(&model.create_time),
        "approve_time": output::time(&model.approve_time),
    })
}

fn print_model(model: &pb::ProductModel, request_id: Option<&str>, json: bool) {
    if json {
        let mut value = model_json(model);
        if let Some(request_id) = request_id {
            value["request_id"] = request_id.into();
        }
        output::print_json(&value);
    } else {
        print!(
            "{}",
            lines(&[
                ("product model", model.name.clone()),
                ("name", model.display_name.clone()),
                ("category", model.category.clone()),
                ("approval", approval(model.approval_state)),
                ("approved", output::time_text(&model.approve_time)),
            ])
        );
    }
}
