//! The window, drawn from a [`Model`] each frame: the call bar (name, server, room,
//! access token, Join / Hang up), a banner when something needs saying, the device panel, and the
//! videos with the stats overlay. Edits go into the model; nothing here blocks or
//! talks to the engine.
//!
//! Shortcuts (when no text field has focus): `M` mute, `V` camera, `F` full screen
//! (`Esc` leaves it), `S` stats, `C` chat. The chat panel lists the lines with sender
//! and time; Enter sends what is typed.

use eframe::egui::{self, Color32, RichText};

use super::model::{AudioPick, CodecPick, MAX_VOLUME, Model, Phase, SpeakerPick, VideoPick};
use super::video::Picture;
use call::CallState;

/// A call on its way (joining, waiting, connecting, reconnecting): amber, neither good
/// nor bad yet.
const AMBER: Color32 = Color32::from_rgb(0xd9, 0x9a, 0x1c);
/// Connected.
const GREEN: Color32 = Color32::from_rgb(0x3c, 0xb3, 0x71);
/// Failed.
const RED: Color32 = Color32::from_rgb(0xe0, 0x4f, 0x4f);
/// Behind an error banner: a dark red that white text reads well on.
const ERROR_FILL: Color32 = Color32::from_rgb(0x7f, 0x1d, 0x1d);
/// Behind a notice: a slate grey that white text reads well on.
const NOTICE_FILL: Color32 = Color32::from_rgb(0x37, 0x41, 0x51);

/// The device panel's width: the pickers and the toggle buttons in two rows.
const DEVICE_PANEL_WIDTH: f32 = 270.0;
/// A device picker's width within the panel, its label beside it.
const PICKER_WIDTH: f32 = 170.0;
/// The name field: a name of a dozen characters shows whole.
const NAME_WIDTH: f32 = 110.0;
/// The server field: a `ws://host:port/ws` URL shows whole.
const SERVER_WIDTH: f32 = 220.0;
/// The room field: a fresh room's 22 characters show whole.
const ROOM_WIDTH: f32 = 200.0;
/// The access token field: masked, so it need not show whole.
const TOKEN_WIDTH: f32 = 120.0;
/// Space above and below the call bar.
const BAR_PADDING: f32 = 4.0;
/// Space above the device panel's heading.
const PANEL_TOP: f32 = 6.0;
/// Space between the volume slider and the toggle buttons.
const TOGGLES_GAP: f32 = 8.0;
/// Padding inside a banner.
const BANNER_PADDING: f32 = 8.0;

/// Size of the text in place of the remote video: readable across the room.
const PLACEHOLDER_TEXT_SIZE: f32 = 18.0;
/// The preview is this fraction of the video area's width...
const PREVIEW_SHARE: f32 = 0.25;
/// ...but never narrower than this, to stay recognisable in a small window.
const PREVIEW_MIN_WIDTH: f32 = 120.0;
/// The preview's distance from the bottom right corner.
const PREVIEW_MARGIN: f32 = 12.0;
/// The preview's frame: rounding and stroke width.
const PREVIEW_ROUNDING: f32 = 2.0;
/// See [`PREVIEW_ROUNDING`].
const PREVIEW_STROKE: f32 = 1.0;

/// The stats overlay's width: its longest line (the ICE path) in 12 px monospace.
const STATS_WIDTH: f32 = 420.0;
/// The stats overlay's distance from the top right corner.
const STATS_MARGIN: f32 = 10.0;
/// The stats text size: small, to cover little of the video.
const STATS_TEXT_SIZE: f32 = 12.0;
/// The stats backdrop's opacity (of 255): the text reads on any picture, which still
/// shows through.
const STATS_BACKDROP_ALPHA: u8 = 170;
/// Padding inside the stats backdrop.
const STATS_PADDING: f32 = 6.0;
/// The stats backdrop's rounding.
const STATS_ROUNDING: f32 = 4.0;

/// Behind "You are sharing …": a blue that white text reads well on.
const SHARING_FILL: Color32 = Color32::from_rgb(0x1d, 0x4e, 0xd8);

/// The picker: every screen and window by name, with its thumbnail once taken; one
/// click shares it.
fn share_picker(ctx: &egui::Context, model: &mut Model) {
    let mut open = true;
    let mut picked = None;
    egui::Window::new("Share your screen")
        .open(&mut open)
        .collapsible(false)
        .show(ctx, |ui| {
            if model.share.choices.is_empty() {
                ui.label("Looking for screens and windows…");
            }
            egui::ScrollArea::vertical().show(ui, |ui| {
                for choice in &model.share.choices {
                    let label = match choice.target {
                        media::screen::ShareTarget::Window(_) => format!("🗔 {}", choice.name),
                        _ => format!("🖵 {}", choice.name),
                    };
                    let button = match model.share.thumbnails.get(&choice.target) {
                        Some((serial, picture)) => {
                            let texture = thumbnail_texture(ctx, choice.target, *serial, picture);
                            egui::Button::image_and_text(
                                egui::Image::from_texture(egui::load::SizedTexture::from_handle(
                                    &texture,
                                )),
                                label,
                            )
                        }
                        None => egui::Button::new(label),
                    };
                    if ui.add(button).clicked() {
                        picked = Some(choice.target);
                    }
                }
            });
        });
    if let Some(target) = picked {
        model.share(target);
    } else if !open {
        model.close_share_picker();
    }
}

/// The texture of a picker thumbnail, made once per picture (kept in egui's memory
/// under the source, with the picture's serial number).
fn thumbnail_texture(
    ctx: &egui::Context,
    target: media::screen::ShareTarget,
    serial: u64,
    picture: &media::screen::Thumbnail,
) -> egui::TextureHandle {
    let id = egui::Id::new(("share-thumbnail", target));
    if let Some((kept, texture)) = ctx.data(|d| d.get_temp::<(u64, egui::TextureHandle)>(id))
        && kept == serial
    {
        return texture;
    }
    let image = egui::ColorImage::from_rgba_unmultiplied(
        [picture.width as usize, picture.height as usize],
        &picture.rgba,
    );
    let texture = ctx.load_texture(
        format!("share-thumbnail-{serial}"),
        image,
        egui::TextureOptions::LINEAR,
    );
    ctx.data_mut(|d| d.insert_temp(id, (serial, texture.clone())));
    texture
}

/// The chat panel's width at first (it can be dragged wider).
const CHAT_PANEL_WIDTH: f32 = 280.0;
/// How tall the chat's typing field is, in lines.
const CHAT_INPUT_ROWS: usize = 2;

/// The label of the button that shows or hides the chat: with the unread count.
pub fn chat_button_label(model: &Model) -> String {
    match model.chat.unread {
        0 => "Chat".to_owned(),
        n => format!("Chat ({n})"),
    }
}

/// The chat: the lines with who and when, an error if the last one was refused, and
/// the field to type in (Enter sends, Shift+Enter a new line).
fn chat_panel(ui: &mut egui::Ui, model: &mut Model) {
    ui.add_space(PANEL_TOP);
    ui.heading("Chat");
    // Below the lines: the typing field, then the file rows (one line each, and one
    // more for the progress of those under way) and the field to send one.
    let files = &model.chat.files;
    let file_lines = files.len() + files.iter().filter(|f| f.is_running()).count() + 2;
    let input_height = ui.spacing().interact_size.y * ((CHAT_INPUT_ROWS + 2 + file_lines) as f32);
    egui::ScrollArea::vertical()
        .max_height((ui.available_height() - input_height).max(0.0))
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for line in &model.chat.lines {
                let who = match &line.time {
                    Some(time) => format!("{} · {time}", line.from),
                    None => line.from.clone(),
                };
                let colour = if line.mine {
                    Color32::LIGHT_BLUE
                } else {
                    GREEN
                };
                ui.label(RichText::new(who).small().color(colour));
                ui.add(egui::Label::new(line.text.as_str()).wrap());
            }
        });
    if let Some(error) = &model.chat.error {
        ui.colored_label(RED, error.as_str());
    }
    let field = ui.add(
        egui::TextEdit::multiline(&mut model.chat.draft)
            .desired_rows(CHAT_INPUT_ROWS)
            .desired_width(f32::INFINITY)
            .hint_text("Type a message")
            .return_key(egui::KeyboardShortcut::new(
                egui::Modifiers::SHIFT,
                egui::Key::Enter,
            )),
    );
    let enter = field.has_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    if ui.button("Send").clicked() || enter {
        model.send_chat();
        field.request_focus();
    }
    file_rows(ui, model);
}

/// The file transfers (name, progress, Cancel while under way) and the field to send
/// one: a path typed or pasted, or a file dropped anywhere on the window.
fn file_rows(ui: &mut egui::Ui, model: &mut Model) {
    ui.separator();
    let mut cancel = None;
    for row in &model.chat.files {
        ui.horizontal_wrapped(|ui| {
            let arrow = if row.mine { "↑" } else { "↓" };
            ui.label(RichText::new(format!("{arrow} {}", row.name)).strong());
            ui.label(RichText::new(row.status()).small());
        });
        if row.is_running() {
            ui.horizontal(|ui| {
                let done = row.bytes as f32 / row.size.max(1) as f32;
                ui.add(egui::ProgressBar::new(done).desired_width(ui.available_width() - 70.0));
                if ui.button("Cancel").clicked() {
                    cancel = Some(row.id.clone());
                }
            });
        }
    }
    if let Some(id) = cancel {
        model.cancel_file(id);
    }
    ui.horizontal(|ui| {
        let field = ui.add(
            egui::TextEdit::singleline(&mut model.chat.file_path)
                .desired_width(ui.available_width() - 80.0)
                .hint_text("Path of a file, or drop one here"),
        );
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Send file").clicked() || enter {
            model.send_file(None);
        }
    });
}

/// The pictures to draw this frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pictures {
    /// Remote video.
    pub remote: Option<Picture>,
    /// Local preview.
    pub local: Option<Picture>,
    /// The other peer's screen share.
    pub screen: Option<Picture>,
}

/// Draws the window.
pub fn show(ctx: &egui::Context, model: &mut Model, pictures: Pictures) {
    shortcuts(ctx, model);
    if !model.fullscreen {
        egui::TopBottomPanel::top("call").show(ctx, |ui| call_bar(ui, model));
        if model.banner.is_some() {
            egui::TopBottomPanel::top("banner").show(ctx, |ui| banner(ui, model));
        }
        egui::SidePanel::right("devices")
            .resizable(false)
            .exact_width(DEVICE_PANEL_WIDTH)
            .show(ctx, |ui| devices(ui, model));
        if let Some(name) = &model.share.sharing {
            let text = format!("You are sharing {name}");
            let mut stop = false;
            egui::TopBottomPanel::top("sharing").show(ctx, |ui| {
                egui::Frame::NONE
                    .fill(SHARING_FILL)
                    .inner_margin(BANNER_PADDING)
                    .show(ui, |ui| {
                        ui.horizontal(|ui| {
                            ui.label(RichText::new(text).color(Color32::WHITE).strong());
                            stop = ui.button("Stop sharing").clicked();
                        });
                    });
            });
            if stop {
                model.stop_sharing();
            }
        }
        if model.share.picker_open {
            share_picker(ctx, model);
        }
        if model.chat.open {
            egui::SidePanel::right("chat")
                .resizable(true)
                .default_width(CHAT_PANEL_WIDTH)
                .show(ctx, |ui| chat_panel(ui, model));
        }
        // A file dropped on the window is sent.
        let dropped: Vec<std::path::PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .filter_map(|f| f.path.clone())
                .collect()
        });
        for path in dropped {
            model.send_file(Some(path));
        }
    }
    egui::CentralPanel::default()
        .frame(egui::Frame::NONE.fill(Color32::BLACK))
        .show(ctx, |ui| videos(ui, model, pictures));
}

fn shortcuts(ctx: &egui::Context, model: &mut Model) {
    if ctx.wants_keyboard_input() {
        return;
    }
    let pressed = |key| ctx.input(|i| i.key_pressed(key));
    if pressed(egui::Key::M) {
        model.toggle_mute();
    }
    if pressed(egui::Key::V) {
        model.toggle_camera();
    }
    if pressed(egui::Key::S) {
        model.show_stats = !model.show_stats;
    }
    if pressed(egui::Key::C) {
        let open = !model.chat.open;
        model.chat.set_open(open);
    }
    if pressed(egui::Key::F) || (model.fullscreen && pressed(egui::Key::Escape)) {
        set_fullscreen(ctx, model, !model.fullscreen);
    }
}

fn set_fullscreen(ctx: &egui::Context, model: &mut Model, on: bool) {
    model.fullscreen = on;
    ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(on));
}

/// The colour the state shows in (its words are [`Phase::words`]).
fn state_colour(phase: &Phase) -> Color32 {
    match phase {
        Phase::InCall(CallState::Connected) => GREEN,
        Phase::InCall(CallState::Ended(_) | CallState::Failed(_)) => Color32::GRAY,
        Phase::InCall(_) => AMBER,
        Phase::Over(CallState::Failed(_)) => RED,
        Phase::Idle | Phase::Over(_) => Color32::GRAY,
    }
}

fn call_bar(ui: &mut egui::Ui, model: &mut Model) {
    ui.add_space(BAR_PADDING);
    ui.horizontal_wrapped(|ui| {
        ui.heading("peercall");
        let colour = state_colour(&model.phase);
        ui.label(RichText::new(model.phase.words()).color(colour).strong());
        if let Some(code) = model.verification() {
            ui.label(RichText::new(format!("code {code}")).monospace())
                .on_hover_text(
                    "Read this code out to each other: the same on both screens means \
                     nobody is in between.",
                );
        }
        ui.separator();
        let editable = !model.in_call();
        ui.label("Name");
        ui.add_enabled(
            editable,
            egui::TextEdit::singleline(&mut model.settings.name).desired_width(NAME_WIDTH),
        );
        ui.label("Server");
        let hint = model
            .embedded
            .as_deref()
            .map_or("starting the embedded server…".to_string(), |url| {
                format!("embedded: {url}")
            });
        ui.add_enabled(
            editable,
            egui::TextEdit::singleline(&mut model.settings.server)
                .hint_text(hint)
                .desired_width(SERVER_WIDTH),
        );
        ui.label("Room");
        ui.add_enabled(
            editable,
            egui::TextEdit::singleline(&mut model.room).desired_width(ROOM_WIDTH),
        );
        if ui
            .add_enabled(editable, egui::Button::new("New room"))
            .clicked()
        {
            model.room = super::model::new_room();
        }
        let label = ui.label("Token").id;
        ui.add_enabled(
            editable,
            egui::TextEdit::singleline(&mut model.token)
                .password(true)
                .hint_text("if the server needs one")
                .desired_width(TOKEN_WIDTH),
        )
        .labelled_by(label);
        if let Some(link) = model.browser_link() {
            if ui
                .button("Copy link")
                .on_hover_text(format!("Open in a browser to call this room: {link}"))
                .clicked()
            {
                ui.ctx().copy_text(link);
            }
        }
        if model.in_call() {
            if ui
                .button(RichText::new("Hang up").color(Color32::WHITE))
                .clicked()
            {
                model.hang_up();
            }
        } else if ui.button(RichText::new("Join").strong()).clicked() {
            model.join();
        }
    });
    ui.add_space(BAR_PADDING);
}

fn banner(ui: &mut egui::Ui, model: &mut Model) {
    let Some(banner) = model.banner.clone() else {
        return;
    };
    let fill = if banner.error {
        ERROR_FILL
    } else {
        NOTICE_FILL
    };
    egui::Frame::NONE
        .fill(fill)
        .inner_margin(BANNER_PADDING)
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(&banner.text).color(Color32::WHITE));
                if let Some(fix) = banner.fix {
                    let label = match fix {
                        super::model::Fix::UseTestPattern => "Use the test pattern",
                        super::model::Fix::UseTestTone => "Use the test tone",
                    };
                    if ui.button(label).clicked() {
                        model.apply_fix(fix);
                    }
                }
                if ui.button("Dismiss").clicked() {
                    model.banner = None;
                }
            });
        });
}

/// A device picker: `choices` are (value, name) pairs; `current` is replaced by the one
/// picked. A current value not among the choices (a device unplugged) shows as
/// "(not found)".
fn picker<T: PartialEq + Clone>(
    ui: &mut egui::Ui,
    label: &str,
    current: &T,
    choices: &[(T, String)],
) -> T {
    let mut picked = current.clone();
    let shown = choices
        .iter()
        .find(|(value, _)| value == current)
        .map_or_else(|| "(not found)".to_string(), |(_, name)| name.clone());
    egui::ComboBox::from_label(label)
        .width(PICKER_WIDTH)
        .selected_text(shown)
        .show_ui(ui, |ui| {
            for (value, name) in choices {
                ui.selectable_value(&mut picked, value.clone(), name);
            }
        });
    picked
}

fn devices(ui: &mut egui::Ui, model: &mut Model) {
    ui.add_space(PANEL_TOP);
    ui.heading("Devices");
    let devices = &model.devices;
    let cameras: Vec<_> = devices
        .cameras
        .iter()
        .filter_map(|c| Some((VideoPick::Camera(c.id.parse().ok()?), c.name.clone())))
        .chain([
            (VideoPick::TestPattern, "Test pattern".to_string()),
            (VideoPick::Off, "No video".to_string()),
        ])
        .collect();
    let mics: Vec<_> = devices
        .microphones
        .iter()
        .map(|m| (AudioPick::Microphone(m.id.clone()), m.name.clone()))
        .chain([
            (AudioPick::TestTone, "Test tone".to_string()),
            (AudioPick::Off, "No audio".to_string()),
        ])
        .collect();
    let speakers: Vec<_> = devices
        .speakers
        .iter()
        .map(|s| (SpeakerPick::Speaker(s.id.clone()), s.name.clone()))
        .chain([(SpeakerPick::Off, "No sound".to_string())])
        .collect();
    let video = picker(ui, "Camera", &model.settings.video, &cameras);
    model.pick_video(video);
    let audio = picker(ui, "Microphone", &model.settings.audio, &mics);
    model.pick_audio(audio);
    let speaker = picker(ui, "Speaker", &model.settings.speaker, &speakers);
    model.pick_speaker(speaker);
    let codecs: Vec<_> = CodecPick::ALL
        .into_iter()
        .map(|c| (c, c.label().to_string()))
        .collect();
    let codec = picker(ui, "Video codec", &model.settings.video_codec, &codecs);
    model.pick_video_codec(codec);

    let mut volume = model.settings.volume;
    if ui
        .add(egui::Slider::new(&mut volume, 0.0..=MAX_VOLUME).text("volume"))
        .changed()
    {
        model.set_volume(volume);
    }
    let mut prefs = model.settings.processing;
    let running = model.processing();
    for (label, allowed, runs, why) in [
        (
            "Echo cancellation",
            &mut prefs.echo_cancellation,
            running.echo_cancellation,
            "runs with a microphone and a speaker",
        ),
        (
            "Noise suppression",
            &mut prefs.noise_suppression,
            running.noise_suppression,
            "runs with a microphone",
        ),
        (
            "Gain control",
            &mut prefs.gain_control,
            running.gain_control,
            "runs with a microphone",
        ),
    ] {
        let hint = if runs { "on" } else { why };
        ui.checkbox(allowed, label).on_hover_text(hint);
    }
    if prefs != model.settings.processing {
        model.set_processing(prefs);
    }
    ui.add_space(TOGGLES_GAP);
    ui.horizontal_wrapped(|ui| {
        let mute = if model.muted {
            "Unmute mic"
        } else {
            "Mute mic"
        };
        if ui
            .selectable_label(model.muted, mute)
            .on_hover_text("M")
            .clicked()
        {
            model.toggle_mute();
        }
        let camera = if model.camera_off {
            "Camera on"
        } else {
            "Camera off"
        };
        if ui
            .selectable_label(model.camera_off, camera)
            .on_hover_text("V")
            .clicked()
        {
            model.toggle_camera();
        }
        if ui.button("Full screen").on_hover_text("F").clicked() {
            let on = !model.fullscreen;
            set_fullscreen(ui.ctx(), model, on);
        }
        if ui
            .selectable_label(model.show_stats, "Stats")
            .on_hover_text("S")
            .clicked()
        {
            model.show_stats = !model.show_stats;
        }
        if model.share.sharing.is_some() {
            if ui.selectable_label(true, "Stop sharing").clicked() {
                model.stop_sharing();
            }
        } else if ui
            .add_enabled(model.in_call(), egui::Button::new("Share screen"))
            .clicked()
        {
            model.open_share_picker();
        }
        if ui
            .selectable_label(model.chat.open, chat_button_label(model))
            .on_hover_text("C")
            .clicked()
        {
            let open = !model.chat.open;
            model.chat.set_open(open);
        }
    });
}

/// `size` scaled to fit `within`, aspect kept, centred.
pub fn fit(size: egui::Vec2, within: egui::Rect) -> egui::Rect {
    let scale = (within.width() / size.x).min(within.height() / size.y);
    egui::Rect::from_center_size(within.center(), size * scale)
}

fn videos(ui: &mut egui::Ui, model: &mut Model, pictures: Pictures) {
    let area = ui.max_rect();
    let painter = ui.painter_at(area);
    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
    if let Some(screen) = pictures.screen.filter(|_| model.in_call()) {
        // Their screen large, their camera small in the bottom left corner.
        painter.image(screen.id, fit(screen.size, area), uv, Color32::WHITE);
        if let Some(remote) = pictures.remote {
            let width = (area.width() * PREVIEW_SHARE).max(PREVIEW_MIN_WIDTH);
            let size = egui::vec2(width, width * remote.size.y / remote.size.x);
            let margin = egui::vec2(PREVIEW_MARGIN, -PREVIEW_MARGIN);
            let rect = egui::Rect::from_min_size(
                area.left_bottom() + margin - egui::vec2(0.0, size.y),
                size,
            );
            painter.image(remote.id, rect, uv, Color32::WHITE);
        }
    }
    match pictures.remote {
        _ if pictures.screen.is_some() && model.in_call() => {}
        Some(remote) if model.in_call() => {
            let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
            painter.image(remote.id, fit(remote.size, area), uv, Color32::WHITE);
        }
        _ => {
            let text = match &model.phase {
                Phase::InCall(CallState::Connected) => "waiting for the first picture…",
                Phase::InCall(_) => "the other peer's video shows here once connected",
                _ => "press Join to call; share the link so someone can join from a browser",
            };
            painter.text(
                area.center(),
                egui::Align2::CENTER_CENTER,
                text,
                egui::FontId::proportional(PLACEHOLDER_TEXT_SIZE),
                Color32::GRAY,
            );
        }
    }
    if let Some(local) = pictures.local.filter(|_| model.in_call()) {
        // Mirrored, as people expect to see themselves, in the bottom right corner.
        let width = (area.width() * PREVIEW_SHARE).max(PREVIEW_MIN_WIDTH);
        let size = egui::vec2(width, width * local.size.y / local.size.x);
        let margin = egui::Vec2::splat(PREVIEW_MARGIN);
        let rect = egui::Rect::from_min_size(area.right_bottom() - size - margin, size);
        let mirrored = egui::Rect::from_min_max(egui::pos2(1.0, 0.0), egui::pos2(0.0, 1.0));
        painter.image(local.id, rect, mirrored, Color32::WHITE);
        painter.rect_stroke(
            rect,
            PREVIEW_ROUNDING,
            (PREVIEW_STROKE, Color32::GRAY),
            egui::StrokeKind::Outside,
        );
    }
    if model.show_stats {
        stats_overlay(ui, model, area);
    }
}

fn stats_overlay(ui: &mut egui::Ui, model: &Model, area: egui::Rect) {
    let Some(stats) = &model.stats else { return };
    let v = &stats.video_in;
    let o = &stats.video_out;
    let latency = v.latency_ms.as_ref().map_or("–".to_string(), |l| {
        format!("p50 {:.0} ms, max {:.0} ms", l.p50, l.max)
    });
    let lines = [
        format!(
            "received {} {}x{} {} fps {} kbit/s",
            v.codec.as_deref().unwrap_or("video"),
            v.width,
            v.height,
            v.fps,
            v.kbps
        ),
        format!(
            "sent {} {}x{} {} fps {} kbit/s (target {})",
            o.codec.as_deref().unwrap_or("video"),
            o.width,
            o.height,
            o.fps,
            o.kbps,
            o.target_kbps
        ),
        format!(
            "audio Opus in {} kbit/s, out {} kbit/s",
            stats.audio_in.kbps, stats.audio_out.kbps
        ),
        format!(
            "path {} <-> {}, RTT {}",
            stats.ice.local.as_deref().unwrap_or("?"),
            stats.ice.remote.as_deref().unwrap_or("?"),
            stats
                .ice
                .rtt_ms
                .map_or("–".to_string(), |r| format!("{r:.0} ms"))
        ),
        format!(
            "loss in: video {} packets, audio {}; freezes {}",
            v.packets_lost, stats.audio_in.lost, v.freezes
        ),
        format!("latency (test pattern): {latency}"),
    ];
    // Top right: the top left is where a test pattern carries its code.
    let width = STATS_WIDTH.min(area.width() - 2.0 * STATS_MARGIN);
    let rect = egui::Rect::from_min_size(
        egui::pos2(
            area.right() - width - STATS_MARGIN,
            area.top() + STATS_MARGIN,
        ),
        egui::vec2(width, 0.0),
    );
    ui.scope_builder(egui::UiBuilder::new().max_rect(rect), |ui| {
        egui::Frame::NONE
            .fill(Color32::from_black_alpha(STATS_BACKDROP_ALPHA))
            .inner_margin(STATS_PADDING)
            .corner_radius(STATS_ROUNDING)
            .show(ui, |ui| {
                for line in lines {
                    ui.label(
                        RichText::new(line)
                            .monospace()
                            .color(Color32::WHITE)
                            .size(STATS_TEXT_SIZE),
                    );
                }
            });
    });
}

#[cfg(test)]
mod tests {
    use egui::accesskit::Role;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable as _;

    use std::time::Instant;

    use super::*;
    use crate::desktop::model::{CodecPick, Command, Device, Devices, Event, Launch, Settings};
    use call::Failure;

    fn harness(setup: impl FnOnce(&mut Model)) -> Harness<'static, Model> {
        let mut model = Model::new(Settings::default(), Launch::default());
        model.embedded = Some("ws://127.0.0.1:4000/ws".into());
        model.room = "team".into();
        setup(&mut model);
        let mut harness = Harness::builder()
            .with_size(egui::Vec2::from(crate::desktop::WINDOW_SIZE))
            .build_state(
                |ctx, model: &mut Model| show(ctx, model, Pictures::default()),
                model,
            );
        harness.run();
        harness
    }

    /// The engine says `state`.
    fn state(model: &mut Model, state: CallState) {
        model.handle_event(Instant::now(), Event::State(state));
    }

    fn connected(model: &mut Model) {
        model.join();
        state(model, CallState::Connected);
        model.outbox.clear();
    }

    #[test]
    fn chat_shows_the_unread_count_and_enter_sends_what_is_typed() {
        let mut h = harness(connected);
        h.state_mut().handle_event(
            Instant::now(),
            Event::Chat(crate::desktop::chat::ChatEvent::Received(
                call::ChatMessage {
                    from: Some("ana".into()),
                    text: "look at https://example.org".into(),
                    sent_ms: Some(0),
                },
            )),
        );
        h.run();
        h.get_by_label("Chat (1)").click();
        h.run();
        assert_eq!(h.state().chat.unread, 0);
        h.get_by_label("look at https://example.org");
        h.get_by_role(Role::MultilineTextInput).focus();
        h.run();
        h.get_by_role(Role::MultilineTextInput)
            .type_text("héllo 👋");
        h.run();
        h.key_press(egui::Key::Enter);
        h.run();
        assert_eq!(
            h.state().outbox.as_slice(),
            [Command::Chat("héllo 👋".into())]
        );
        assert_eq!(h.state().chat.draft, "");
    }

    #[test]
    fn a_typed_path_is_sent_as_a_file_and_a_running_transfer_can_be_cancelled() {
        let mut h = harness(connected);
        h.get_by_label("Chat").click();
        h.run();
        h.state_mut().handle_event(
            Instant::now(),
            Event::Chat(crate::desktop::chat::ChatEvent::File(
                call::file::FileEvent::Incoming {
                    id: "f1".into(),
                    name: "notes.pdf".into(),
                    size: 2 * 1024 * 1024,
                },
            )),
        );
        h.run();
        h.get_by_label("↓ notes.pdf");
        h.get_by_label("Cancel").click();
        h.run();
        assert_eq!(h.state().outbox, [Command::CancelFile("f1".into())]);
        h.state_mut().outbox.clear();
        // The file field is the last single-line field (the room's is first).
        h.get_all_by_role(Role::TextInput).last().unwrap().focus();
        h.run();
        h.get_all_by_role(Role::TextInput)
            .last()
            .unwrap()
            .type_text("/tmp/report.pdf");
        h.run();
        h.get_by_label("Send file").click();
        h.run();
        assert_eq!(
            h.state().outbox,
            [Command::SendFile("/tmp/report.pdf".into())]
        );
        assert_eq!(h.state().chat.file_path, "");
    }

    #[test]
    fn share_screen_opens_the_picker_shares_the_pick_and_stop_sharing_ends_it() {
        let mut h = harness(connected);
        h.get_by_label("Share screen").click();
        h.run();
        assert_eq!(h.state().outbox, [Command::ListShareables]);
        h.get_by_label("Looking for screens and windows…");
        let screen = media::screen::ShareTarget::Screen(Some(0));
        h.state_mut().handle_event(
            Instant::now(),
            Event::Shareables(Ok(vec![
                media::screen::Shareable {
                    target: screen,
                    name: "Screen 1 (1920x1080)".into(),
                },
                media::screen::Shareable {
                    target: media::screen::ShareTarget::Window(7),
                    name: "notes.txt".into(),
                },
            ])),
        );
        h.run();
        h.get_by_label("🗔 notes.txt");
        // A thumbnail arrives: the choice shows it (an image in the button).
        h.state_mut().handle_event(
            Instant::now(),
            Event::Thumbnail(
                screen,
                media::screen::Thumbnail {
                    width: 16,
                    height: 9,
                    rgba: [255, 0, 0, 255].repeat(16 * 9),
                },
            ),
        );
        h.run();
        assert_eq!(h.state().share.thumbnails.len(), 1);
        let thumbnails = |h: &Harness<'_, Model>| {
            h.ctx
                .tex_manager()
                .read()
                .allocated()
                .filter(|(_, meta)| meta.name.starts_with("share-thumbnail"))
                .map(|(_, meta)| meta.size)
                .collect::<Vec<_>>()
        };
        assert_eq!(thumbnails(&h), [[16, 9]]);
        h.run();
        assert_eq!(thumbnails(&h), [[16, 9]], "made once, not every frame");
        h.get_by_label("🖵 Screen 1 (1920x1080)").click();
        h.run();
        assert_eq!(h.state().outbox.last(), Some(&Command::StartShare(screen)));
        h.state_mut().handle_event(
            Instant::now(),
            Event::Share(call::ShareEvent::Started("Screen 1 (1920x1080)".into())),
        );
        h.run();
        h.get_by_label("You are sharing Screen 1 (1920x1080)");
        h.get_all_by_label("Stop sharing").next().unwrap().click();
        h.run();
        assert_eq!(h.state().outbox.last(), Some(&Command::StopShare));
    }

    #[test]
    fn join_queues_the_call_and_the_state_is_shown() {
        let mut h = harness(|_| {});
        h.get_by_label("not in a call");
        h.get_by_label("Join").click();
        h.run();
        assert!(
            matches!(h.state().outbox.as_slice(), [Command::Join(j)] if j.room.as_str() == "team")
        );
        h.get_by_label("joining…");
        h.get_by_label("Hang up");
        assert!(h.query_by_label("Join").is_none());
    }

    #[test]
    fn a_token_typed_into_its_masked_field_goes_with_the_join() {
        let mut h = harness(|_| {});
        h.get_by_role_and_label(Role::PasswordInput, "Token")
            .focus();
        h.run();
        h.get_by_role_and_label(Role::PasswordInput, "Token")
            .type_text("eyJ.tok.en");
        h.run();
        h.get_by_label("Join").click();
        h.run();
        assert!(
            matches!(h.state().outbox.as_slice(), [Command::Join(j)] if j.token.as_ref().map(|t| t.as_str()) == Some("eyJ.tok.en")),
            "{:?}",
            h.state().outbox
        );
        assert!(
            h.query_by_label_contains("eyJ.tok.en").is_none(),
            "shown masked"
        );
    }

    #[test]
    fn failures_show_a_banner_with_what_to_do_and_a_fix() {
        let mut h = harness(|m| {
            m.join();
            state(
                m,
                CallState::Failed(Failure::RoomFull {
                    room: signaling_proto::RoomId::new("r").unwrap(),
                }),
            );
        });
        h.get_by_label("failed");
        h.get_by_label_contains("pick another room");
        state(
            h.state_mut(),
            CallState::Failed(Failure::Device {
                kind: Some(media::DeviceKind::Camera),
                detail: "no camera named \"0\"".into(),
            }),
        );
        h.run();
        h.get_by_label("Use the test pattern").click();
        h.run();
        assert_eq!(h.state().settings.video, VideoPick::TestPattern);
        assert!(h.query_by_label_contains("no camera named").is_none());
    }

    #[test]
    fn without_camera_or_microphone_the_test_sources_are_offered_with_a_notice() {
        let mut h = harness(|m| m.handle_event(Instant::now(), Event::Devices(Devices::default())));
        h.get_by_label_contains("No camera found: sending the test pattern");
        assert_eq!(h.state().settings.video, VideoPick::TestPattern);
        assert_eq!(h.state().settings.audio, AudioPick::TestTone);
        assert_eq!(h.state().settings.speaker, SpeakerPick::Off);
        // The camera picker offers the test pattern (and no camera).
        h.get_by_role_and_label(Role::ComboBox, "Camera").click();
        h.run();
        h.get_by_label("Test pattern");
        h.get_by_label("No video");
        assert!(h.query_by_label("Desk camera").is_none());
    }

    #[test]
    fn the_video_codec_picked_in_the_device_panel_goes_into_the_next_call() {
        let mut h = harness(|m| m.handle_event(Instant::now(), Event::Devices(Devices::default())));
        h.get_by_role_and_label(Role::ComboBox, "Video codec")
            .click();
        h.run();
        h.get_by_label("H.264");
        h.get_by_label("VP9");
        h.get_by_label("VP8").click();
        h.run();
        assert_eq!(h.state().settings.video_codec, CodecPick::Vp8);
        h.state_mut().join();
        let join = h.state().outbox.iter().find_map(|c| match c {
            Command::Join(j) => Some(j.video_codec),
            _ => None,
        });
        assert_eq!(join, Some(Some(media::codec::VideoCodec::Vp8)));
    }

    #[test]
    fn picking_another_camera_mid_call_switches_without_hanging_up() {
        let mut h = harness(|m| {
            let devices = Devices {
                cameras: vec![Device {
                    id: "0".into(),
                    name: "Desk camera".into(),
                }],
                ..Devices::default()
            };
            m.handle_event(Instant::now(), Event::Devices(devices));
            connected(m);
        });
        h.get_by_role_and_label(Role::ComboBox, "Camera").click();
        h.run();
        h.get_by_label("Test pattern").click();
        h.run();
        assert_eq!(
            h.state().outbox,
            vec![Command::Video(VideoPick::TestPattern)]
        );
        assert!(h.state().in_call());
    }

    #[test]
    fn echo_cancellation_is_turned_off_mid_call_from_the_device_panel() {
        let mut h = harness(|m| {
            let devices = Devices {
                cameras: vec![],
                microphones: vec![Device {
                    id: "default".into(),
                    name: "Desk mic".into(),
                }],
                speakers: vec![Device {
                    id: "default".into(),
                    name: "Desk speaker".into(),
                }],
            };
            m.handle_event(Instant::now(), Event::Devices(devices));
            connected(m);
        });
        h.get_by_label("Echo cancellation").click();
        h.run();
        assert!(!h.state().settings.processing.echo_cancellation);
        assert_eq!(
            h.state().outbox,
            vec![Command::Processing(media::apm::Processing {
                echo_cancellation: false,
                ..media::apm::Processing::ALL
            })]
        );
    }

    #[test]
    fn mute_camera_and_hang_up_by_button_and_key() {
        let mut h = harness(connected);
        h.get_by_label("Mute mic").click();
        h.run();
        h.get_by_label("Unmute mic");
        h.key_press(egui::Key::M);
        h.key_press(egui::Key::V);
        h.run();
        h.get_by_label("Camera on");
        h.get_by_label("Hang up").click();
        h.run();
        assert_eq!(
            h.state().outbox,
            vec![
                Command::Mute(true),
                Command::Mute(false),
                Command::CameraOff(true),
                Command::HangUp
            ]
        );
    }
}
